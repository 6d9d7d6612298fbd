/** The stream stripper over an image already in memory: the whole image as one source chunk, the cleaned image as one new array. */
import { concat, StripError } from "./bytes.ts";
import { type ImageKind, stripStream } from "./strip.ts";

/** The cleaned image and the human names of what was dropped, each once, in file order. */
export interface StripResult {
  bytes: Uint8Array;
  removed: string[];
  /** The metadata kept because it changes how the picture looks, each once, in file order. */
  kept: string[];
}

/** Larger inputs are refused before any parsing: the whole image and its copy are held in memory. */
export const MAX_STRIP_SIZE = 100 * 1024 * 1024;

/**
 * Returns a new image with metadata removed, exactly as stripStream would give it: the same walk runs
 * over `input` as its only chunk. The input is never modified, and the result never aliases it.
 */
export async function stripBytes(kind: ImageKind, input: Uint8Array): Promise<StripResult> {
  if (!(input instanceof Uint8Array)) throw new StripError("image is not a byte array");
  if (input.length > MAX_STRIP_SIZE) {
    throw new StripError(`image is ${input.length} bytes, over the ${MAX_STRIP_SIZE}-byte limit for stripping metadata`);
  }
  const removed: string[] = [];
  const kept: string[] = [];
  const pieces: Uint8Array[] = [];
  const source = async function* () {
    yield input;
  };
  for await (const piece of stripStream(kind, source, removed, kept)) pieces.push(piece);
  return { bytes: concat(pieces), removed, kept };
}
