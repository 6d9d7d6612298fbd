/** Comparing two descriptions of one image, without loading the message schemas. */
import type { ImageMeta } from "./messages.ts";

/** The same image, field for field (a cut-through delivery and the catch-up's LIST must agree, P46). */
export function sameImageMeta(a: ImageMeta, b: ImageMeta): boolean {
  return a.seq === b.seq && a.id === b.id && a.owner === b.owner && a.name === b.name && a.size === b.size && a.contentType === b.contentType && a.createdAt === b.createdAt;
}
