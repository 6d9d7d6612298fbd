/** GIF: walks the block structure as it streams and drops comment extensions and metadata application extensions. */
import { ascii, concat, hasPrefix, need, noteDropped, StripError } from "./bytes.ts";
import { type ImageFormat, readOnce } from "./format.ts";
import type { ByteReader } from "./stream-reader.ts";

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
export const GIF_ICC = "GIF ICC colour profile";

/**
 * Application extensions kept: looping (NETSCAPE2.0, ANIMEXTS1.0) and the ICC profile. Every other one
 * (XMP, ImageMagick's IPTC and 8BIM blocks, unknown vendors) is dropped: a decoder skips application
 * extensions it does not know (GIF89a spec 26), so the frames and their timing stay as they were.
 */
const KEPT_APPLICATIONS = new Set(["NETSCAPE2.0", "ANIMEXTS1.0", "ICCRGBG1012"]);

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

/** The walk: block by block, the data sub-blocks followed through each source chunk and passed on in source-sized pieces. */
export async function* walkGif(r: ByteReader, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> {
  const head = await r.read(GIF_HEADER);
  const length = gifHeaderLength(head);
  yield concat([head, await r.readExact(length - GIF_HEADER, "gif: global colour table")]);
  let images = 0;
  for (;;) {
    const pos = r.offset;
    const intro = await r.read(1);
    need(intro, 0, 1, "gif: block");
    const block = gifBlock(intro[0]!, pos, images);
    if (block === "trailer") {
      yield intro;
      if (!(await r.atEnd())) noteDropped(removed, GIF_AFTER_END);
      return;
    }
    if (block === "image") {
      const descriptor = concat([intro, await r.read(IMAGE_DESCRIPTOR - 1)]);
      need(descriptor, 0, IMAGE_DESCRIPTOR, "gif: image descriptor");
      const table = await r.readExact(colourTableSize(descriptor[9]!) + 1, "gif: lzw minimum code size");
      yield concat([descriptor, table]); // descriptor, local colour table and LZW data: the pixels, copied unchanged
      yield* subBlocks(r, true);
      images += 1;
      continue;
    }
    const label = concat([intro, await r.read(1)]);
    need(label, 0, 2, "gif: extension label");
    // The first sub-block names an application extension, so the verdict waits for it.
    const first = await subBlock(r);
    const name = extensionDropName(label[1]!, first);
    if (!name) yield concat([label, first]);
    if (first[0] !== 0) yield* subBlocks(r, !name);
    if (name) noteDropped(removed, name);
    else if (first[0] === 11 && hasPrefix(first, 1, "ICCRGBG1012")) noteDropped(kept, GIF_ICC);
  }
}

/** One data sub-block: its size byte and that many bytes. */
async function subBlock(r: ByteReader): Promise<Uint8Array> {
  const size = await r.read(1);
  need(size, 0, 1, "gif: data sub-block");
  return concat([size, await r.readExact(size[0]!, "gif: data sub-block")]);
}

/**
 * Sub-blocks up to and including the zero-size one that ends them, passed through if `keep`. Their
 * size bytes are followed within each source chunk, so the data goes out in source-sized pieces.
 */
async function* subBlocks(r: ByteReader, keep: boolean): AsyncGenerator<Uint8Array> {
  let left = 0; // data bytes still to come in the current sub-block; at 0 a size byte is next
  for (let ended = false; !ended; ) {
    const view = await r.peek();
    if (!view) throw new StripError("gif: data sub-block: truncated");
    let at = 0;
    while (at < view.length && !ended) {
      if (left > 0) {
        const take = Math.min(left, view.length - at);
        [at, left] = [at + take, left - take];
      } else {
        left = view[at++]!;
        ended = left === 0;
      }
    }
    r.consume(at);
    if (keep) yield view.subarray(0, at);
  }
}

export const gif: ImageFormat<"image/gif"> = {
  type: "image/gif",
  sniff: (head) => hasPrefix(head, 0, "GIF87a") || hasPrefix(head, 0, "GIF89a"),
  strip: readOnce(walkGif),
};
