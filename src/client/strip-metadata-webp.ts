/** WebP: drops the EXIF and XMP chunks (and unknown ones), clears their VP8X flags and rewrites the RIFF size. */
import { ascii, hasPrefix, need, Rebuild, StripError, u32le } from "./strip-metadata-bytes.ts";

/** VP8X flag bits (WebP container spec, "Extended File Format"). */
const FLAG_EXIF = 0x08;
const FLAG_XMP = 0x04;
const VP8X_SIZE = 10;
/** "RIFF", the size of what follows it, "WEBP". */
export const RIFF_HEADER = 12;
/** A chunk is its FourCC and size (this header), then its data padded to an even length. */
export const WEBP_CHUNK_HEADER = 8;
export const WEBP_AFTER_END = "WebP data after RIFF";
export const RIFF_PAYLOAD = "webp: riff payload";

/**
 * Chunks kept byte-identical: the bitstreams, alpha, animation and the ICC profile. Anything else is
 * dropped; the container spec tells readers to ignore unknown chunks, so the picture cannot change.
 */
const KEPT = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"]);

/** The offset where the RIFF payload ends, from the first 12 bytes of the file (fewer if it is shorter). */
export function riffEnd(h: Uint8Array): number {
  if (!hasPrefix(h, 0, "RIFF") || !hasPrefix(h, 8, "WEBP")) throw new StripError("webp: not a RIFF WEBP file");
  const riffSize = u32le(h, 4, "webp: riff size");
  if (riffSize < 4) throw new StripError(`webp: riff size ${riffSize} is too small`);
  return 8 + riffSize;
}

export interface WebpChunkHeader {
  fourcc: string;
  size: number;
  /** Chunks are padded to an even size (RIFF). */
  padded: number;
  /** Names the whole chunk in a truncation error. */
  what: string;
}

/** Reads the chunk header at `pos` from `h`, its first 8 bytes (fewer where the RIFF payload ends). */
export function webpChunkHeader(h: Uint8Array, pos: number): WebpChunkHeader {
  const fourcc = ascii(h, 0, 4, "webp: chunk header");
  const size = u32le(h, 4, "webp: chunk size");
  return { fourcc, size, padded: size + (size & 1), what: `webp: ${JSON.stringify(fourcc)} chunk at offset ${pos}` };
}

/** Checked once the whole chunk is known to be there; `first` is true for the first chunk in the file. */
export function checkWebpChunk({ fourcc, size }: WebpChunkHeader, first: boolean): void {
  if (first && fourcc !== "VP8 " && fourcc !== "VP8L" && fourcc !== "VP8X") {
    throw new StripError("webp: first chunk is not VP8, VP8L or VP8X");
  }
  if (fourcc === "VP8X" && size !== VP8X_SIZE) throw new StripError(`webp: VP8X chunk size ${size} is not ${VP8X_SIZE}`);
}

/** The name to report for a chunk that must go, or null to keep it (VP8X through `keptData`). */
export function webpDropName(fourcc: string): string | null {
  if (fourcc === "EXIF") return "WebP EXIF";
  if (fourcc === "XMP ") return "WebP XMP";
  if (KEPT.has(fourcc)) return null;
  return `WebP ${fourcc.replace(/[^\x21-\x7e]/g, "").trim() || "unnamed"} chunk`;
}

/**
 * Kept chunk data as it is written: a copy of VP8X data whose first piece (starting with the flags
 * byte) has the EXIF and XMP flags cleared, since no such chunk follows any more; any other data as is.
 */
export function keptData(fourcc: string, piece: Uint8Array, offsetInData: number): Uint8Array {
  if (fourcc !== "VP8X" || offsetInData > 0) return piece;
  const patched = piece.slice();
  patched[0] = patched[0]! & ~(FLAG_EXIF | FLAG_XMP);
  return patched;
}

/** The first 12 bytes with the RIFF size set for an output of `total` bytes (a copy). */
export function withRiffSize(h: Uint8Array, total: number): Uint8Array {
  const patched = h.slice(0, RIFF_HEADER);
  new DataView(patched.buffer).setUint32(4, total - 8, true);
  return patched;
}

export function stripWebp(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  const end = riffEnd(b);
  need(b, 0, end, RIFF_PAYLOAD);
  // Reading from a view that ends at the RIFF size means no chunk can reach into the trailing bytes.
  const riff = b.subarray(0, end);
  const out = new Rebuild(b);
  out.keep(0, RIFF_HEADER); // placeholder: the size is rewritten below, once the kept chunks are known
  let pos = RIFF_HEADER;
  if (pos === end) throw new StripError("webp: no chunks");
  for (let first = true; pos < end; first = false) {
    const header = webpChunkHeader(riff.subarray(pos, pos + WEBP_CHUNK_HEADER), pos);
    const next = pos + WEBP_CHUNK_HEADER + header.padded;
    need(riff, pos, WEBP_CHUNK_HEADER + header.padded, header.what);
    checkWebpChunk(header, first);
    const name = webpDropName(header.fourcc);
    if (name) out.drop(name);
    else {
      out.keep(pos, pos + WEBP_CHUNK_HEADER);
      out.add(keptData(header.fourcc, b.subarray(pos + WEBP_CHUNK_HEADER, next), 0));
    }
    pos = next;
  }
  if (b.length > end) out.drop(WEBP_AFTER_END); // outside the container: no reader needs it
  const result = out.finish();
  // The result is never larger than the input, which is capped far below 4 GiB, so the size fits.
  result.bytes.set(withRiffSize(result.bytes, result.bytes.length));
  return result;
}
