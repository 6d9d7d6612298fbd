/** The dispatch table: every image format sis takes, in the order they are sniffed. A new format is one file and one line here. */
import type { ImageFormat } from "./format.ts";
import { gif } from "./strip-gif.ts";
import { jpeg } from "./strip-jpeg.ts";
import { png } from "./strip-png.ts";
import { webp } from "./strip-webp.ts";

export const FORMATS = [png, jpeg, gif, webp] as const satisfies readonly ImageFormat[];

/** A content type that src/image can sniff and strip. */
export type ImageKind = (typeof FORMATS)[number]["type"];

/** The format whose content type is `type` exactly, if there is one. */
export function formatOf(type: string): ImageFormat | undefined {
  return FORMATS.find((format) => format.type === type);
}
