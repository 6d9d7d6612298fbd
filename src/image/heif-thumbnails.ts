/** HEIF/AVIF: which picture items are thumbnails (or only make up thumbnails) and so go, with Exif and XMP, although they are coded pictures. */
import type { ItemReference } from "./heif-boxes.ts";

export const HEIF_THUMBNAIL = "HEIF thumbnail";
export const HEIF_THUMBNAIL_PART = "HEIF thumbnail tile";

/**
 * The items to drop as thumbnails, by id, with the name to report: every item that a `thmb`
 * reference names as a thumbnail (a small copy that can show the picture as it was before an edit
 * or a crop), then every item that only dropped items derive from (`dimg`: the tiles of a thumbnail
 * grid), until nothing changes. An item that a kept item also derives from, and the primary item,
 * are never dropped. Each item is queued at most once, when it is dropped, so a loop in the
 * references (an item derived from itself) cannot make the walk go round.
 */
export function thumbnailItems(references: ItemReference[], primary: number): Map<number, string> {
  const dropped = new Map<number, string>();
  const parts = new Map<number, number[]>(); // item → the items it derives from
  const users = new Map<number, Set<number>>(); // item → the items derived from it
  for (const ref of references) {
    if (ref.type === "thmb" && ref.from !== primary) dropped.set(ref.from, HEIF_THUMBNAIL);
    if (ref.type !== "dimg") continue;
    parts.set(ref.from, [...(parts.get(ref.from) ?? []), ...ref.to]);
    for (const part of ref.to) users.set(part, (users.get(part) ?? new Set()).add(ref.from));
  }
  const queue = [...dropped.keys()];
  while (queue.length > 0) {
    for (const part of parts.get(queue.pop()!) ?? []) {
      if (dropped.has(part) || part === primary || ![...users.get(part)!].every((user) => dropped.has(user))) continue;
      dropped.set(part, HEIF_THUMBNAIL_PART);
      queue.push(part);
    }
  }
  return dropped;
}
