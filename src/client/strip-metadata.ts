/** Strips location and other metadata from an image without re-encoding its pixels. */
import { StripError } from "./strip-metadata-bytes.ts";
import { stripGif } from "./strip-metadata-gif.ts";
import { stripJpeg } from "./strip-metadata-jpeg.ts";
import { stripPng } from "./strip-metadata-png.ts";
import { stripWebp } from "./strip-metadata-webp.ts";

export { StripError };

export type ImageKind = "image/png" | "image/jpeg" | "image/gif" | "image/webp";

/** The cleaned image and the human names of what was dropped, each once, in file order. */
export interface StripResult {
  bytes: Uint8Array;
  removed: string[];
}

/** Larger inputs are refused before any parsing: the whole image and its copy are held in memory. */
export const MAX_STRIP_SIZE = 100 * 1024 * 1024;

/**
 * Returns a new image with metadata segments removed and every pixel-carrying byte copied unchanged.
 * Each parser walks the container strictly (lengths checked against the end, never trusted) and
 * throws StripError on anything malformed or truncated, so a file it cannot fully account for is
 * refused rather than passed through with its metadata. The input is never modified or aliased.
 */
export function stripMetadata(kind: ImageKind, input: Uint8Array): StripResult {
  if (!(input instanceof Uint8Array)) throw new StripError("image is not a byte array");
  if (input.length > MAX_STRIP_SIZE) {
    throw new StripError(`image is ${input.length} bytes, over the ${MAX_STRIP_SIZE}-byte limit for stripping metadata`);
  }
  switch (kind) {
    case "image/jpeg":
      return stripJpeg(input);
    case "image/png":
      return stripPng(input);
    case "image/webp":
      return stripWebp(input);
    case "image/gif":
      return stripGif(input);
    default:
      throw new StripError(`cannot strip metadata from ${JSON.stringify(String(kind))}`);
  }
}
