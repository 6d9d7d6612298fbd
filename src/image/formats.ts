/** The dispatch table: every image format sis takes, in the order they are sniffed. A new format is one file and one line here. */
import type { ImageFormat } from "./format.ts";
import { gif } from "./strip-gif.ts";
import { avif, heic, heif } from "./strip-heif.ts";
import { jpeg } from "./strip-jpeg.ts";
import { png } from "./strip-png.ts";
import { webp } from "./strip-webp.ts";

export const FORMATS = [png, jpeg, gif, webp, heic, heif, avif] as const satisfies readonly ImageFormat[];

/** The formats' short names for messages ("PNG, JPEG, …"), derived from the table so a new format is listed everywhere at once. */
export const FORMAT_NAMES = FORMATS.map((format) => format.type.slice("image/".length).toUpperCase().replace("WEBP", "WebP"));

/** "a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image": for messages that say what sis accepts. */
export const ACCEPTED_IMAGES = `${FORMAT_NAMES.slice(0, -1).join(", ")} or ${FORMAT_NAMES.at(-1)} image`;

/** A content type that src/image can sniff and strip. */
export type ImageKind = (typeof FORMATS)[number]["type"];

/** The format whose content type is `type` exactly, if there is one. */
export function formatOf(type: string): ImageFormat | undefined {
  return FORMATS.find((format) => format.type === type);
}
