/** Strips location and other metadata from an image as it streams, in flat memory whatever its size. */
import { StripError } from "./bytes.ts";
import type { ReadAt, Source } from "./format.ts";
import { formatOf, type ImageKind } from "./formats.ts";

export { StripError };
export type { ImageKind, ReadAt, Source };

/** The most bytes in one yielded chunk. */
export const STRIP_OUTPUT_CHUNK = 1024 * 1024;
/** Pieces up to this size are copied together into one chunk before they are yielded. */
const GATHER = 64 * 1024;

/**
 * Strips metadata while reading the image from `source()`, which may come in any chunking, and yields
 * the cleaned image, every pixel-carrying byte unchanged, in chunks of at most STRIP_OUTPUT_CHUNK
 * bytes. It fills `removed` with the names of what was dropped, each once, in file order, and `kept`
 * with the metadata it kept because it changes how the picture looks (colour profile, orientation). Each
 * format's walk follows the container strictly (lengths checked against the end, never trusted) and
 * throws StripError on anything malformed or truncated, so a file it cannot fully account for is
 * refused rather than passed through with its metadata. Output may have been yielded before such an
 * error: the caller must then discard all of it.
 *
 * Memory is one block header or JPEG segment (at most 64 KiB), one 64 KiB gathering buffer and the
 * source's current chunk; large blocks are passed through, never held. Passed-through data comes out
 * as views of the source's chunks, so a source must not reuse a buffer it has yielded. HEIF also
 * holds its meta box (at most MAX_META, 1 MiB). PNG, JPEG and GIF read the source once; WebP and
 * HEIF read it twice (strip-webp.ts, strip-heif.ts), so `source` is a factory. There is no size
 * limit: nothing holds the image.
 */
export async function* stripStream(kind: ImageKind, source: Source, removed: string[], kept: string[] = []): AsyncGenerator<Uint8Array> {
  const format = formatOf(kind);
  if (!format) throw new StripError(`cannot strip metadata from ${JSON.stringify(String(kind))}`);
  yield* bounded(format.strip(source, removed, kept));
}

/**
 * Bounds the pieces a walk yields: large ones (pass-through data) go out as views of at most
 * STRIP_OUTPUT_CHUNK bytes, with no copy; small ones (headers, segments, GIF sub-blocks) are gathered
 * into new chunks of up to GATHER bytes, so a source read byte by byte does not come out byte by byte.
 */
async function* bounded(pieces: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let gathered = new Uint8Array(GATHER);
  let fill = 0;
  for await (const piece of pieces) {
    if (fill + piece.length <= GATHER) {
      gathered.set(piece, fill);
      fill += piece.length;
      continue;
    }
    if (fill > 0) {
      yield gathered.subarray(0, fill);
      [gathered, fill] = [new Uint8Array(GATHER), 0];
    }
    if (piece.length <= GATHER) {
      gathered.set(piece);
      fill = piece.length;
      continue;
    }
    for (let at = 0; at < piece.length; at += STRIP_OUTPUT_CHUNK) yield piece.subarray(at, at + STRIP_OUTPUT_CHUNK);
  }
  if (fill > 0) yield gathered.subarray(0, fill);
}

/**
 * The size stripStream will give for `kind`'s image of `fileSize` bytes, and the names it will
 * report, read from the image's block headers alone; null when the format cannot tell without
 * the whole pass (ImageFormat.plan). A post then sends while it strips (src/client/post-source.ts).
 */
export async function planStrip(kind: ImageKind, readAt: ReadAt, fileSize: number, removed: string[], kept: string[]): Promise<number | null> {
  const plan = formatOf(kind)?.plan;
  return plan ? plan(readAt, fileSize, removed, kept) : null;
}
