/** What one image format gives the dispatch table (formats.ts): its content type, its signature and its one walk. */
import { type ByteReader, readWith } from "./stream-reader.ts";

/** The image's bytes, read from the start each time it is called (WebP and HEIF read them twice). */
export type Source = () => AsyncIterable<Uint8Array>;

/** Up to `length` bytes of the file at `position` (fewer at its end): for a walk over block headers alone. */
export type ReadAt = (position: number, length: number) => Promise<Uint8Array>;

export interface ImageFormat<Type extends string = string> {
  /** The content type, as the protocol names it (CONTENT_TYPES). */
  readonly type: Type;
  /** Whether `head`, the file's first SNIFF_BYTES bytes (fewer if it is shorter), opens an image of this format. */
  sniff(head: Uint8Array): boolean;
  /**
   * The image read from `source()` with its metadata dropped, in pieces of any size (views of the
   * source's chunks or new arrays); the name of each kind of block dropped goes once into `removed`,
   * and of each kept block that is metadata of a kind (colour profile, orientation) once into `kept`.
   * Throws StripError on input it cannot fully account for, after any number of pieces.
   */
  strip(source: Source, removed: string[], kept: string[]): AsyncGenerator<Uint8Array>;
  /**
   * What `strip` will make of an image of `fileSize` bytes, read from its block headers alone:
   * the stripped size, with `removed` and `kept` filled as `strip` fills them for the same bytes.
   * Only a format whose container gives every block's length up front has one (PNG). It throws
   * StripError for what the headers show to be malformed; what only the data can show (PNG's
   * CRCs) `strip` still finds while the image is sent.
   */
  plan?(readAt: ReadAt, fileSize: number, removed: string[], kept: string[]): Promise<number>;
}

/** `strip` for a format walked in one pass over its source, through one reader that is closed however the walk ends. */
export const readOnce =
  (walk: (r: ByteReader, removed: string[], kept: string[]) => AsyncGenerator<Uint8Array>) =>
  (source: Source, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> =>
    readWith(source(), (r) => walk(r, removed, kept));
