/** WebP: drops the EXIF and XMP chunks (and unknown ones), clears their VP8X flags and rewrites the RIFF size, in two streamed passes. */
import { ascii, hasPrefix, noteDropped, StripError, u32le } from "./bytes.ts";
import type { ImageFormat, Source } from "./format.ts";
import { ByteReader, readWith } from "./stream-reader.ts";

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
export const WEBP_ICC = "WebP ICCP colour profile";

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

/**
 * The RIFF header at the start of the output holds the output's size, known only once every chunk
 * has been judged; holding the output back would hold the image. So the source is read twice, and
 * the second pass must make the same decisions as the first, or it throws rather than write a
 * header that does not match what follows it.
 */
export async function* streamWebp(source: Source, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> {
  const total = await measure(source(), removed);
  const again: string[] = [];
  let written = 0;
  for await (const piece of readWith(source(), (r) => walkWebp(r, again, total, kept))) {
    written += piece.length;
    yield piece;
  }
  if (written !== total || again.join("\n") !== removed.join("\n")) {
    throw new StripError("webp: the image changed between the two passes over it");
  }
}

/** The first pass: the output's size, every check of the walk made on the way. */
async function measure(source: AsyncIterable<Uint8Array>, removed: string[]): Promise<number> {
  const r = new ByteReader(source);
  try {
    let total = 0;
    for await (const piece of walkWebp(r, removed, null)) total += piece.length;
    return total;
  } catch (error) {
    // A file shorter than its RIFF size is refused as such, whichever chunk the walk stopped in: a
    // failed walk finds out whether that is why, so the fault is named the same however it shows.
    if (error instanceof StripError && Number.isFinite(r.limit) && !(await r.reaches(r.limit))) {
      throw new StripError(`${RIFF_PAYLOAD}: truncated`);
    }
    throw error;
  } finally {
    await r.close();
  }
}

/** The walk, chunk by chunk; the RIFF size is written as `total` (left as it is on the first pass, null). */
async function* walkWebp(r: ByteReader, removed: string[], total: number | null, kept: string[] = []): AsyncGenerator<Uint8Array> {
  const head = await r.read(RIFF_HEADER);
  const end = riffEnd(head);
  r.limit = end; // no chunk can reach into bytes after the RIFF payload
  yield total === null ? head : withRiffSize(head, total);
  if (r.offset === end) throw new StripError("webp: no chunks");
  for (let first = true; r.offset < end; first = false) {
    const pos = r.offset;
    const chunkHead = await r.read(WEBP_CHUNK_HEADER);
    const header = webpChunkHeader(chunkHead, pos);
    const name = webpDropName(header.fourcc);
    if (!name) yield chunkHead;
    let at = 0;
    for await (const piece of r.pass(header.padded, header.what)) {
      if (!name) yield keptData(header.fourcc, piece, at);
      at += piece.length;
    }
    checkWebpChunk(header, first);
    if (name) noteDropped(removed, name);
    else if (header.fourcc === "ICCP") noteDropped(kept, WEBP_ICC);
  }
  r.limit = Number.POSITIVE_INFINITY;
  if (!(await r.atEnd())) noteDropped(removed, WEBP_AFTER_END);
}

export const webp: ImageFormat<"image/webp"> = {
  type: "image/webp",
  sniff: (head) => hasPrefix(head, 0, "RIFF") && hasPrefix(head, 8, "WEBP"),
  strip: streamWebp,
};
