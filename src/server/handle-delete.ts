/** DELETE_IMAGE (PROTOCOL.md M27, M28): the owner deletes their own image, row first (durably), then the blob; connected clients are told through the notifier. */
import { imageNameProblem, ProtocolError, type ClientMessageOf } from "../protocol/index.ts";
import { requireCurrentIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import type { Peer } from "./peer.ts";
import { toMeta } from "./wire-image.ts";

export async function handleDeleteImage(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"DELETE_IMAGE">): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  if ("name" in message) {
    const problem = imageNameProblem(message.name);
    if (problem) throw new ProtocolError("BAD_NAME", problem);
  }
  const record = "name" in message ? await ctx.store.findImageByName(identity.username, message.name) : await ctx.store.findImage(message.id);
  // Another owner's image is answered like a missing one: only its owner (or the operator) deletes it.
  if (!record || record.owner !== identity.username) {
    throw new ProtocolError("NOT_FOUND", "you have no image of that name; 'sis list' shows what there is");
  }
  // The row goes first, in a committed transaction: from then on LIST and DOWNLOAD do not see it.
  // A crash before the blob is removed leaves an orphan file, which the start-up sweep removes.
  if (!(await ctx.store.deleteImage(record.id))) throw new ProtocolError("NOT_FOUND", "this image was deleted meanwhile");
  try {
    await ctx.blobs.remove(record.id);
  } catch (error) {
    ctx.log.error("cannot remove deleted image's blob; the start-up sweep will", { id: record.id, error: String(error) });
  }
  ctx.metrics.imagesDeleted++;
  ctx.log.info("image deleted", { id: record.id, owner: record.owner, by: identity.username });
  peer.send({ type: "DELETED", image: toMeta(record) });
  // The hub pushes IMAGE_DELETED from the notifier's event, as NEW_IMAGE: in process on SQLite; on
  // PostgreSQL this is a wake-up, and every node (this one too) delivers the deletion from the log.
  ctx.notifier.publishDeletion({ seq: record.seq, id: record.id, owner: record.owner, name: record.name });
}
