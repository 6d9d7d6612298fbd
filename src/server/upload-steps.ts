/** The steps of a post both protocol versions share (P19–P22): the declaration's checks, the reservation, the commit. */
import { randomBytes } from "node:crypto";
import { cipherSize, decodeHeader, unwrapStorageKey } from "../crypto/index.ts";
import {
  CONTENT_TYPES, fromBase64, imageNameProblem, MAX_UPLOADS_PER_USER, ProtocolError,
  type ClientMessageOf, type ImageMeta,
} from "../protocol/index.ts";
import { requireCurrentIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import type { Identity } from "./identify.ts";
import type { Peer } from "./peer.ts";
import { StoreConflictError, type BlobWriter, type ImageRecord, type NewImage } from "./ports.ts";
import { stampSignature } from "./timestamp.ts";
import { toMeta } from "./wire-image.ts";
import { admitPost } from "./admit-post.ts";

type Declaration = Omit<ClientMessageOf<"POST_IMAGE">, "signature" | "upload" | "type">;

/** The declaration as checked (P19): who posts, the header's bytes and the wrapped key. */
export interface Declared {
  identity: Identity;
  headerBytes: Uint8Array;
  wrappedKey: Uint8Array;
}

/** The checks of P19 up to the wrapped key, in the order version 1 has always made them. */
export async function checkDeclaration(ctx: ServerContext, peer: Peer, message: Declaration): Promise<Declared> {
  const identity = await requireCurrentIdentity(ctx, peer);
  const { name, contentType, size, dataSize } = message;
  const nameProblem = imageNameProblem(name);
  if (nameProblem) throw new ProtocolError("BAD_NAME", nameProblem);
  if (!(CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw new ProtocolError("BAD_IMAGE", `content type ${JSON.stringify(contentType.slice(0, 64))} is not accepted; sis takes ${CONTENT_TYPES.join(", ")}`);
  }
  // Every receiver refuses an empty image, so the server does not store one.
  if (size === 0) throw new ProtocolError("BAD_IMAGE", `the image is empty (0 bytes); post an image file with content (sis takes ${CONTENT_TYPES.join(", ")})`);
  if (size > ctx.limits.maxImageSize) throw new ProtocolError("TOO_LARGE", `the image is ${size} bytes; this server takes at most ${ctx.limits.maxImageSize}`);
  if (dataSize !== cipherSize(size)) throw new ProtocolError("BAD_UPLOAD", "dataSize does not match the envelope size for this image size");

  const headerBytes = fromBase64(message.header);
  let header;
  try {
    header = decodeHeader(headerBytes);
  } catch {
    throw new ProtocolError("BAD_UPLOAD", "the envelope header does not decode");
  }
  // The header is authenticated with every chunk; it must say what the request says.
  if (header.owner !== identity.username || header.name !== name || header.contentType !== contentType || header.size !== size) {
    throw new ProtocolError("BAD_UPLOAD", "the envelope header does not match the request (owner, name, size or content type)");
  }
  return { identity, headerBytes, wrappedKey: fromBase64(message.wrappedKey) };
}

/** The wrapped key opens with the storage key (P19): the key, or BAD_UPLOAD. */
export async function checkWrappedKey(ctx: ServerContext, wrappedKey: Uint8Array): Promise<Uint8Array> {
  try {
    return await unwrapStorageKey(wrappedKey, ctx.storageKeys);
  } catch {
    throw new ProtocolError("BAD_UPLOAD", "the image key is not wrapped for this server's storage certificate");
  }
}

/** An upload admitted: its id, its temporary blob, and `finish`, which releases what it holds exactly once. */
export interface Reserved {
  id: string;
  writer: BlobWriter;
  finish(keep: boolean): Promise<void>;
}

/** The name is free, an upload slot, the rate and the quota (M25, M26), a temporary blob: before UPLOAD_READY. */
export async function reserveUpload(ctx: ServerContext, identity: Identity, name: string, dataSize: number): Promise<Reserved> {
  if (await ctx.store.imageNameTaken(identity.userId, name)) {
    throw new ProtocolError("NAME_TAKEN", `you already have an image named ${JSON.stringify(name)}; choose another --name`);
  }
  if (!ctx.hub.beginUpload(identity.username, MAX_UPLOADS_PER_USER)) {
    throw new ProtocolError("BUSY", `at most ${MAX_UPLOADS_PER_USER} uploads at a time per user; wait for one to finish`);
  }
  let releaseQuota: () => void;
  try {
    releaseQuota = await admitPost(ctx, identity, dataSize);
  } catch (error) {
    ctx.hub.endUpload(identity.username);
    throw error;
  }
  const id = randomBytes(16).toString("hex");
  let writer: BlobWriter;
  try {
    writer = await ctx.blobs.create(id);
  } catch (error) {
    ctx.hub.endUpload(identity.username);
    releaseQuota();
    ctx.log.error("cannot create blob", { error: String(error) });
    throw new ProtocolError("STORAGE_FAILED", "the server cannot store images right now; try again later");
  }
  let finished = false;
  const finish = async (keep: boolean) => {
    if (finished) return;
    finished = true;
    ctx.hub.endUpload(identity.username);
    releaseQuota();
    if (!keep) await writer.abort().catch(() => {});
  };
  return { id, writer, finish };
}

/**
 * The blob is durable; time-stamp the signature, make the metadata and token durable together, then
 * acknowledge and announce (P21, P22, T1). `contentKey`, unwrapped by the check, seeds the download
 * cache (P24) and is zeroed here; `upload` is the version-2 id POSTED carries (P30).
 */
export async function commitImage(
  ctx: ServerContext, peer: Peer, image: NewImage, finish: (keep: boolean) => Promise<void>, contentKey: Uint8Array, upload?: number,
  /** Version 3 (P42): told of the record before POSTED and NEW_IMAGE go out, so DELIVERED precedes NEW_IMAGE. */
  onRecorded?: (meta: ImageMeta, record: ImageRecord) => void,
): Promise<void> {
  try {
    // Closed meanwhile (the server stopping, O2, or the client gone): nobody would get POSTED, so nothing is kept.
    // From the insert to the POSTED below there is no macrotask, so no close comes in between.
    if (peer.closed) {
      await finish(false);
      await ctx.blobs.remove(image.id).catch(() => {});
      ctx.log.info("upload abandoned before it was recorded", { id: image.id, owner: image.owner });
      return;
    }
    let record;
    try {
      const timestampToken = await stampSignature(ctx.tsa, image.signature, ctx.log, image.id);
      record = await ctx.store.insertImage({ ...image, timestampToken });
    } catch (error) {
      await finish(false);
      await ctx.blobs.remove(image.id).catch(() => {});
      if (error instanceof StoreConflictError) throw new ProtocolError("NAME_TAKEN", `you already have an image named ${JSON.stringify(image.name)}`);
      ctx.log.error("cannot record image", { id: image.id, error: String(error) });
      throw new ProtocolError("STORAGE_FAILED", "the server could not record the image; nothing was kept, try again later");
    }
    await finish(true);
    // Every watcher downloads a new image at once: its key is already open, so none of them costs an unwrap.
    ctx.contentKeys.put(record.id, image.wrappedKey, contentKey);
    ctx.metrics.imagesStored++;
    ctx.metrics.bytesStored += record.cipherSize;
    const meta: ImageMeta = toMeta(record);
    ctx.log.info("image stored", { id: record.id, owner: record.owner, name: record.name, size: record.size });
    onRecorded?.(meta, record);
    peer.send(upload === undefined ? { type: "POSTED", image: meta } : { type: "POSTED", image: meta, upload });
    ctx.notifier.publish(meta);
  } finally {
    contentKey.fill(0);
  }
}
