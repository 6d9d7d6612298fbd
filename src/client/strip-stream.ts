/** Strips location and other metadata from an image as it streams, in flat memory whatever its size. */
import { StripError } from "./strip-metadata-bytes.ts";
import type { ImageKind } from "./strip-metadata.ts";
import { walkGif } from "./strip-stream-gif.ts";
import { walkJpeg } from "./strip-stream-jpeg.ts";
import { walkPng } from "./strip-stream-png.ts";
import { type ByteReader, readWith } from "./strip-stream-reader.ts";
import { streamWebp } from "./strip-stream-webp.ts";

/** The most bytes in one yielded chunk. */
export const STRIP_OUTPUT_CHUNK = 1024 * 1024;
/** Pieces up to this size are copied together into one chunk before they are yielded. */
const GATHER = 64 * 1024;

type Source = () => AsyncIterable<Uint8Array>;

const onReader = (walk: (r: ByteReader, removed: string[]) => AsyncGenerator<Uint8Array>) =>
  (source: Source, removed: string[]) => readWith(source(), (r) => walk(r, removed));

const STRIPPERS: Record<ImageKind, (source: Source, removed: string[]) => AsyncGenerator<Uint8Array>> = {
  "image/png": onReader(walkPng),
  "image/jpeg": onReader(walkJpeg),
  "image/gif": onReader(walkGif),
  "image/webp": streamWebp,
};

/**
 * Strips metadata while reading the image from `source()`, which may come in any chunking, and yields
 * the cleaned image in chunks of at most STRIP_OUTPUT_CHUNK bytes. It keeps and drops exactly what
 * stripMetadata does (the rules are shared with it), fills `removed` with the same names as blocks
 * are dropped, and throws StripError on every input that stripMetadata refuses, with the same
 * message. Output may have been yielded before such an error: the caller must then discard all of it.
 *
 * Memory is one block header or JPEG segment (at most 64 KiB), one 64 KiB gathering buffer and the
 * source's current chunk; large blocks are passed through, never held. Passed-through data comes out
 * as views of the source's chunks, so a source must not reuse a buffer it has yielded. PNG, JPEG and
 * GIF read the source once; WebP reads it twice (see strip-stream-webp.ts), so `source` is a factory.
 * Unlike stripMetadata it has no size limit: the limit exists there because that copy holds the image.
 */
export async function* stripStream(kind: ImageKind, source: Source, removed: string[]): AsyncGenerator<Uint8Array> {
  if (!Object.hasOwn(STRIPPERS, kind)) throw new StripError(`cannot strip metadata from ${JSON.stringify(String(kind))}`);
  yield* bounded(STRIPPERS[kind](source, removed));
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
