/** WebP: drops the EXIF and XMP chunks (and unknown ones), clears their VP8X flags and rewrites the RIFF size. */
import { ascii, hasPrefix, need, Rebuild, StripError, u32le } from "./strip-metadata-bytes.ts";

/** VP8X flag bits (WebP container spec, "Extended File Format"). */
const FLAG_EXIF = 0x08;
const FLAG_XMP = 0x04;
const VP8X_SIZE = 10;

/**
 * Chunks kept byte-identical: the bitstreams, alpha, animation and the ICC profile. Anything else is
 * dropped; the container spec tells readers to ignore unknown chunks, so the picture cannot change.
 */
const KEPT = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"]);

export function stripWebp(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  if (!hasPrefix(b, 0, "RIFF") || !hasPrefix(b, 8, "WEBP")) throw new StripError("webp: not a RIFF WEBP file");
  const riffSize = u32le(b, 4, "webp: riff size");
  if (riffSize < 4) throw new StripError(`webp: riff size ${riffSize} is too small`);
  const riffEnd = 8 + riffSize;
  need(b, 0, riffEnd, "webp: riff payload");
  // Reading from a view that ends at the RIFF size means no chunk can reach into the trailing bytes.
  const riff = b.subarray(0, riffEnd);
  const out = new Rebuild(b);
  const header = new Uint8Array(12);
  header.set(b.subarray(0, 12));
  out.add(header); // placeholder: the size is rewritten below, once the kept chunks are known
  let pos = 12;
  if (pos === riffEnd) throw new StripError("webp: no chunks");
  let first = true;
  while (pos < riffEnd) {
    const fourcc = ascii(riff, pos, 4, "webp: chunk header");
    const size = u32le(riff, pos + 4, "webp: chunk size");
    const padded = size + (size & 1); // chunks are padded to an even size (RIFF)
    need(riff, pos, 8 + padded, `webp: ${JSON.stringify(fourcc)} chunk at offset ${pos}`);
    if (first && fourcc !== "VP8 " && fourcc !== "VP8L" && fourcc !== "VP8X") {
      throw new StripError("webp: first chunk is not VP8, VP8L or VP8X");
    }
    first = false;
    const end = pos + 8 + padded;
    if (fourcc === "VP8X") {
      if (size !== VP8X_SIZE) throw new StripError(`webp: VP8X chunk size ${size} is not ${VP8X_SIZE}`);
      const patched = b.slice(pos, end);
      patched[8] = patched[8]! & ~(FLAG_EXIF | FLAG_XMP); // no EXIF or XMP chunk follows any more
      out.add(patched);
    } else if (fourcc === "EXIF") out.drop("WebP EXIF");
    else if (fourcc === "XMP ") out.drop("WebP XMP");
    else if (KEPT.has(fourcc)) out.keep(pos, end);
    else out.drop(`WebP ${fourcc.replace(/[^\x21-\x7e]/g, "").trim() || "unnamed"} chunk`);
    pos = end;
  }
  if (b.length > riffEnd) out.drop("WebP data after RIFF"); // outside the container: no reader needs it
  const result = out.finish();
  // The result is never larger than the input, which is capped far below 4 GiB, so the size fits.
  new DataView(result.bytes.buffer).setUint32(4, result.bytes.length - 8, true);
  return result;
}
