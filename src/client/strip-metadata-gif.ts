/** GIF: walks the block structure and drops comment extensions and metadata application extensions. */
import { ascii, hasPrefix, need, Rebuild, StripError } from "./strip-metadata-bytes.ts";

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const COMMENT = 0xfe;
const APPLICATION = 0xff;
const GRAPHIC_CONTROL = 0xf9;
const PLAIN_TEXT = 0x01;
/** Signature and logical screen descriptor; a global colour table may follow. */
export const GIF_HEADER = 13;
/** Image separator, position, size and packed field; a local colour table and the LZW code size follow. */
export const IMAGE_DESCRIPTOR = 10;
export const GIF_AFTER_END = "GIF data after trailer";

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
export function colourTableSize(packed: number): number {
  return packed & 0x80 ? 3 * (1 << ((packed & 0x07) + 1)) : 0;
}

/** The length of the header and global colour table, from `h`, the first 13 bytes (fewer if the file is shorter). */
export function gifHeaderLength(h: Uint8Array): number {
  if (!hasPrefix(h, 0, "GIF87a") && !hasPrefix(h, 0, "GIF89a")) throw new StripError("gif: bad signature");
  need(h, 6, 7, "gif: logical screen descriptor");
  return GIF_HEADER + colourTableSize(h[10]!);
}

/** What a block introducer at `pos` opens; throws on an unknown one or on a trailer before any image. */
export function gifBlock(intro: number, pos: number, images: number): "trailer" | "image" | "extension" {
  if (intro === TRAILER) {
    if (images === 0) throw new StripError("gif: trailer before any image");
    return "trailer";
  }
  if (intro === IMAGE) return "image";
  if (intro !== EXTENSION) throw new StripError(`gif: unknown block 0x${intro.toString(16)} at offset ${pos}`);
  return "extension";
}

/**
 * The name to report for an extension that must go, or null to keep it, from its label and its first
 * sub-block (size byte included). An application extension's first sub-block is exactly 11 bytes: its
 * identifier and authentication code.
 */
export function extensionDropName(label: number, first: Uint8Array): string | null {
  if (label === GRAPHIC_CONTROL || label === PLAIN_TEXT) return null;
  if (label === COMMENT) return "GIF comment";
  if (label !== APPLICATION) return `GIF extension 0x${label.toString(16)}`;
  const id = first[0] === 11 ? ascii(first, 1, 11, "gif: application identifier") : null;
  if (id !== null && KEPT_APPLICATIONS.has(id)) return null;
  if (id === "XMP DataXMP") return "GIF XMP";
  return `GIF application extension ${id?.replace(/[^\x20-\x7e]/g, "?") ?? "(unnamed)"}`;
}

export function stripGif(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  let pos = gifHeaderLength(b);
  need(b, 0, pos, "gif: global colour table");
  const out = new Rebuild(b);
  out.keep(0, pos);
  let images = 0;
  for (;;) {
    need(b, pos, 1, "gif: block");
    const block = gifBlock(b[pos]!, pos, images);
    if (block === "trailer") {
      out.keep(pos, pos + 1);
      if (pos + 1 < b.length) out.drop(GIF_AFTER_END); // outside the image; may hide anything
      return out.finish();
    }
    if (block === "image") {
      need(b, pos, IMAGE_DESCRIPTOR, "gif: image descriptor");
      const dataAt = pos + IMAGE_DESCRIPTOR + colourTableSize(b[pos + 9]!);
      need(b, dataAt, 1, "gif: lzw minimum code size");
      const end = skipSubBlocks(b, dataAt + 1);
      out.keep(pos, end); // descriptor, local colour table and LZW data: the pixels, copied unchanged
      images += 1;
      pos = end;
      continue;
    }
    need(b, pos, 2, "gif: extension label");
    const end = skipSubBlocks(b, pos + 2);
    const name = extensionDropName(b[pos + 1]!, b.subarray(pos + 2, end));
    if (name) out.drop(name);
    else out.keep(pos, end);
    pos = end;
  }
}
