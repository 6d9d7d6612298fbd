/** GIF: walks the block structure and drops comment extensions and metadata application extensions. */
import { ascii, hasPrefix, need, Rebuild, StripError } from "./strip-metadata-bytes.ts";

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const COMMENT = 0xfe;
const APPLICATION = 0xff;
const GRAPHIC_CONTROL = 0xf9;
const PLAIN_TEXT = 0x01;

/**
 * Application extensions kept: looping (NETSCAPE2.0, ANIMEXTS1.0) and the ICC profile. Every other one
 * (XMP, ImageMagick's IPTC and 8BIM blocks, unknown vendors) is dropped: a decoder skips application
 * extensions it does not know (GIF89a spec 26), so the frames and their timing stay as they were.
 */
const KEPT_APPLICATIONS = new Set(["NETSCAPE2.0", "ANIMEXTS1.0", "ICCRGBG1012"]);

/** The offset just past a run of data sub-blocks (a size byte, that many bytes, ..., a zero size). */
function skipSubBlocks(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    need(b, pos, 1, "gif: data sub-block");
    const size = b[pos]!;
    pos += 1;
    if (size === 0) return pos;
    need(b, pos, size, "gif: data sub-block");
    pos += size;
  }
}

/** Size in bytes of a colour table whose presence and size are given by a packed field. */
function colourTableSize(packed: number): number {
  return packed & 0x80 ? 3 * (1 << ((packed & 0x07) + 1)) : 0;
}

/** The 11-byte identifier and authentication code that open an application extension, or null. */
function applicationId(b: Uint8Array, at: number): string | null {
  if (b[at] !== 11) return null; // they fill a first sub-block of exactly 11 bytes
  return ascii(b, at + 1, 11, "gif: application identifier");
}

export function stripGif(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  if (!hasPrefix(b, 0, "GIF87a") && !hasPrefix(b, 0, "GIF89a")) throw new StripError("gif: bad signature");
  need(b, 6, 7, "gif: logical screen descriptor");
  const out = new Rebuild(b);
  let pos = 13 + colourTableSize(b[10]!);
  need(b, 0, pos, "gif: global colour table");
  out.keep(0, pos);
  let images = 0;
  for (;;) {
    need(b, pos, 1, "gif: block");
    const intro = b[pos]!;
    if (intro === TRAILER) {
      if (images === 0) throw new StripError("gif: trailer before any image");
      out.keep(pos, pos + 1);
      if (pos + 1 < b.length) out.drop("GIF data after trailer"); // outside the image; may hide anything
      return out.finish();
    }
    if (intro === IMAGE) {
      need(b, pos, 10, "gif: image descriptor");
      const dataAt = pos + 10 + colourTableSize(b[pos + 9]!);
      need(b, dataAt, 1, "gif: lzw minimum code size");
      const end = skipSubBlocks(b, dataAt + 1);
      out.keep(pos, end); // descriptor, local colour table and LZW data: the pixels, copied unchanged
      images += 1;
      pos = end;
      continue;
    }
    if (intro !== EXTENSION) throw new StripError(`gif: unknown block 0x${intro.toString(16)} at offset ${pos}`);
    need(b, pos, 2, "gif: extension label");
    const label = b[pos + 1]!;
    const end = skipSubBlocks(b, pos + 2);
    if (label === GRAPHIC_CONTROL || label === PLAIN_TEXT) out.keep(pos, end);
    else if (label === COMMENT) out.drop("GIF comment");
    else if (label === APPLICATION) {
      const id = applicationId(b, pos + 2);
      if (id !== null && KEPT_APPLICATIONS.has(id)) out.keep(pos, end);
      else if (id === "XMP DataXMP") out.drop("GIF XMP");
      else out.drop(`GIF application extension ${id?.replace(/[^\x20-\x7e]/g, "?") ?? "(unnamed)"}`);
    } else out.drop(`GIF extension 0x${label.toString(16)}`);
    pos = end;
  }
}
