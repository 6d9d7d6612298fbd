/** Record → wire: the image metadata every reply and push carries (PROTOCOL.md ImageMeta), from a stored record or event. */
import type { ImageMeta } from "../protocol/index.ts";

export type ImageFields = { seq: number; id: string; owner: string; name: string; size: number; contentType: string; createdAt: number };

/** Exactly these fields in this order, nothing else of the record (no key, header or signature). */
export function toMeta(r: ImageFields): ImageMeta {
  return { seq: r.seq, id: r.id, owner: r.owner, name: r.name, size: r.size, contentType: r.contentType as ImageMeta["contentType"], createdAt: r.createdAt };
}
