/** PNG: drops text, time and Exif chunks and any ancillary chunk not known to be safe; the rest stays byte-identical. */
import { ascii, hasPrefix, need, Rebuild, StripError, u32be } from "./strip-metadata-bytes.ts";

const SIGNATURE = "\x89PNG\r\n\x1a\n";
/** PNG lengths are at most 2^31 − 1 (PNG spec 5.3). */
const MAX_CHUNK_LENGTH = 0x7fffffff;

/** Chunks that carry text, dates or camera data. */
const METADATA = new Set(["eXIf", "tEXt", "iTXt", "zTXt", "tIME"]);

/**
 * Ancillary chunks kept because they change how the pixels are shown (colour, transparency, gamma,
 * animation, layout) and hold no free text. Any other ancillary chunk is dropped: the spec lets a
 * decoder ignore unknown ancillary chunks (5.4), so dropping one never changes the picture, while
 * keeping it could leak a private chunk (C2PA caBX, Photoshop, vendor data) that we cannot inspect.
 */
const KEPT_ANCILLARY = new Set([
  "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP", "mDCV", "cLLI", "bKGD", "hIST", "pHYs",
  "sPLT", "acTL", "fcTL", "fdAT", "oFFs", "pCAL", "sCAL", "sTER", "gIFg",
]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as PNG computes it (ISO 3309), over the chunk type and data. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

export function stripPng(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  if (!hasPrefix(b, 0, SIGNATURE)) throw new StripError("png: bad signature");
  const out = new Rebuild(b);
  out.keep(0, SIGNATURE.length);
  let pos = SIGNATURE.length;
  let first = true;
  for (;;) {
    if (pos === b.length) throw new StripError("png: no IEND chunk");
    const length = u32be(b, pos, "png: chunk length");
    if (length > MAX_CHUNK_LENGTH) throw new StripError(`png: chunk length ${length} at offset ${pos} is over 2^31-1`);
    need(b, pos + 4, 4, "png: chunk type");
    for (let i = 0; i < 4; i++) {
      if (!isLetter(b[pos + 4 + i]!)) throw new StripError(`png: chunk type at offset ${pos} is not four letters`);
    }
    const type = ascii(b, pos + 4, 4, "png: chunk type");
    const end = pos + 12 + length;
    need(b, pos, 12 + length, `png: ${type} chunk at offset ${pos}`);
    // A chunk whose CRC fails is damaged or crafted; refuse it rather than guess where the next one starts.
    if (crc32(b.subarray(pos + 4, end - 4)) !== u32be(b, end - 4, "png: crc")) {
      throw new StripError(`png: ${type} chunk at offset ${pos} has a bad crc`);
    }
    if (first && type !== "IHDR") throw new StripError("png: first chunk is not IHDR");
    first = false;
    const critical = (b[pos + 4]! & 0x20) === 0; // upper-case first letter (PNG spec 5.4)
    if (METADATA.has(type) || (!critical && !KEPT_ANCILLARY.has(type))) out.drop(`PNG ${type}`);
    else out.keep(pos, end); // critical chunks are never dropped: the image needs them
    pos = end;
    if (type === "IEND") {
      if (pos < b.length) out.drop("PNG data after IEND"); // not part of the image; may hide anything
      return out.finish();
    }
  }
}
