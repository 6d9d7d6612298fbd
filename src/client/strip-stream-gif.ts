/** GIF, streamed: block by block, the data sub-blocks followed through each source chunk and passed on in source-sized pieces. */
import { concat, need, noteDropped, StripError } from "./strip-metadata-bytes.ts";
import { colourTableSize, extensionDropName, GIF_AFTER_END, GIF_HEADER, gifBlock, gifHeaderLength, IMAGE_DESCRIPTOR } from "./strip-metadata-gif.ts";
import type { ByteReader } from "./strip-stream-reader.ts";

/** The same walk as stripGif, in the same order of checks. */
export async function* walkGif(r: ByteReader, removed: string[]): AsyncGenerator<Uint8Array> {
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
