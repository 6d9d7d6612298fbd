/** Making one preview from an image's bytes: decoded, shrunk, turned upright, laid on white, encoded as JPEG (pure: no files, no state). */
import jpeg from "jpeg-js";
import { jpegOrientation } from "../image/jpeg-facts.ts";
import { canDecode, decodeForPreview, PreviewError } from "./preview-decode.ts";
import { fitWithin, onWhite, orient, shrink } from "./resize.ts";

export const PREVIEW_SIDES = { thumb: 320, large: 1600 } as const;
export type PreviewSize = keyof typeof PREVIEW_SIDES;
const JPEG_QUALITY = { thumb: 78, large: 85 } as const;

/** RGBA → upright, shrunk, on white, JPEG: the pure part (no files), also what a test calls directly. */
export async function makePreview(bytes: Uint8Array, contentType: string, size: PreviewSize): Promise<Uint8Array> {
  if (!canDecode(contentType)) throw new PreviewError(`no decoder for ${contentType}`);
  const decoded = await decodeForPreview(bytes, contentType);
  // Only JPEG carries its orientation in Exif here; libheif applies HEIF's irot/imir itself.
  const orientation = contentType === "image/jpeg" ? jpegOrientation(bytes) : 1;
  const fit = fitWithin(decoded.width, decoded.height, PREVIEW_SIDES[size]);
  // Shrunk first (cheap to turn afterwards); the long side is the same either way.
  const small = orient(shrink(decoded, fit.width, fit.height), orientation);
  const flat = onWhite(small);
  const { data } = jpeg.encode({ width: flat.width, height: flat.height, data: Buffer.from(flat.data.buffer, flat.data.byteOffset, flat.data.byteLength) }, JPEG_QUALITY[size]);
  return new Uint8Array(data);
}

