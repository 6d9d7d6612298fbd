/** What an image is, judged by its first bytes (magic numbers), never by its file name. */
import { FORMATS, type ImageKind } from "./formats.ts";

/** Enough leading bytes to tell every accepted format apart (HEIF's compatible brands follow its 16-byte ftyp start). */
export const SNIFF_BYTES = 64;

export function sniffImageType(head: Uint8Array): ImageKind | null {
  return FORMATS.find((format) => format.sniff(head))?.type ?? null;
}
