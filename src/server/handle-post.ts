/** POST_IMAGE (P19–P22): check the declaration, stream the ciphertext to disk, commit, announce. */
import { randomBytes } from "node:crypto";
import { cipherSize, decodeHeader, unwrapKey } from "../crypto/index.ts";
import {
  CONTENT_TYPES, DATA, fromBase64, imageNameProblem, MAX_UPLOADS_PER_USER, ProtocolError,
  type ClientMessageOf, type Frame, type ImageMeta,
} from "../protocol/index.ts";
import { StoreConflictError, type BlobWriter, type NewImage } from "./ports.ts";
import type { Session } from "./session.ts";

export interface Upload {
  receive(frame: Frame): Promise<void>;
  abort(): Promise<void>;
}

export async function startUpload(session: Session, message: ClientMessageOf<"POST_IMAGE">): Promise<Upload> {
  const { ctx } = session;
  const identity = session.requireCurrentIdentity();
  const { name, contentType, size, dataSize } = message;
  const nameProblem = imageNameProblem(name);
  if (nameProblem) throw new ProtocolError("BAD_NAME", nameProblem);
  if (!(CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw new ProtocolError("BAD_IMAGE", `content type ${JSON.stringify(contentType.slice(0, 64))} is not accepted; sis takes ${CONTENT_TYPES.join(", ")}`);
  }
  // Every receiver refuses an empty image, so the server does not store one.
  if (size === 0) throw new ProtocolError("BAD_IMAGE", "the image is empty (0 bytes); post a PNG, JPEG, GIF or WebP file with content");
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
  const wrappedKey = fromBase64(message.wrappedKey);
  try {
    await unwrapKey(wrappedKey, ctx.storageKeyPkcs8);
  } catch {
    throw new ProtocolError("BAD_UPLOAD", "the image key is not wrapped for this server's storage certificate");
  }
  if (ctx.store.imageNameTaken(identity.userId, name)) {
    throw new ProtocolError("NAME_TAKEN", `you already have an image named ${JSON.stringify(name)}; choose another --name`);
  }
  if (!ctx.hub.beginUpload(identity.username, MAX_UPLOADS_PER_USER)) {
    throw new ProtocolError("BUSY", `at most ${MAX_UPLOADS_PER_USER} uploads at a time per user; wait for one to finish`);
  }

  const id = randomBytes(16).toString("hex");
  let writer: BlobWriter;
  try {
    writer = await ctx.blobs.create(id);
  } catch (error) {
    ctx.hub.endUpload(identity.username);
    ctx.log.error("cannot create blob", { error: String(error) });
    throw new ProtocolError("STORAGE_FAILED", "the server cannot store images right now; try again later");
  }

  let remaining = dataSize;
  let finished = false;
  const finish = async (keep: boolean) => {
    if (finished) return;
    finished = true;
    ctx.hub.endUpload(identity.username);
    session.payloads.clear();
    if (!keep) await writer.abort().catch(() => {});
  };

  const image: NewImage = {
    id, ownerId: identity.userId, owner: identity.username, name, contentType, size, cipherSize: dataSize,
    header: headerBytes, signature: fromBase64(message.signature), wrappedKey, signerSerial: identity.serial,
  };

  const upload: Upload = {
    abort: () => finish(false),
    async receive(frame) {
      if (frame.kind !== DATA) {
        await finish(false);
        throw new ProtocolError("BAD_UPLOAD", `${remaining} bytes of the image are still missing`);
      }
      if (frame.payload.length > remaining) {
        await finish(false);
        throw new ProtocolError("BAD_UPLOAD", "more image bytes than declared");
      }
      session.touch(ctx.limits.uploadStallTimeoutMs);
      try {
        await writer.write(frame.payload);
        session.payloads.give(frame.payload); // copied or written: the decoder may fill it again
        remaining -= frame.payload.length;
        if (remaining > 0) return;
        await writer.commit();
      } catch (error) {
        await finish(false);
        session.upload = null;
        ctx.log.error("cannot store upload", { id, error: String(error) });
        throw new ProtocolError("STORAGE_FAILED", "the server could not store the image; nothing was kept, try again later");
      }
      session.upload = null;
      await commitImage(session, image, finish);
    },
  };
  session.touch(ctx.limits.uploadStallTimeoutMs);
  session.send({ type: "UPLOAD_READY" });
  return upload;
}

/** The blob is durable; make the metadata durable, then acknowledge and announce (P21, P22). */
async function commitImage(session: Session, image: NewImage, finish: (keep: boolean) => Promise<void>): Promise<void> {
  const { ctx } = session;
  let record;
  try {
    record = ctx.store.insertImage(image);
  } catch (error) {
    await finish(false);
    await ctx.blobs.remove(image.id).catch(() => {});
    if (error instanceof StoreConflictError) throw new ProtocolError("NAME_TAKEN", `you already have an image named ${JSON.stringify(image.name)}`);
    ctx.log.error("cannot record image", { id: image.id, error: String(error) });
    throw new ProtocolError("STORAGE_FAILED", "the server could not record the image; nothing was kept, try again later");
  }
  await finish(true);
  ctx.metrics.imagesStored++;
  ctx.metrics.bytesStored += record.cipherSize;
  const meta: ImageMeta = toMeta(record);
  ctx.log.info("image stored", { id: record.id, owner: record.owner, size: record.size });
  session.send({ type: "POSTED", image: meta });
  ctx.notifier.publish(meta);
}

export function toMeta(r: { seq: number; id: string; owner: string; name: string; size: number; contentType: string; createdAt: number }): ImageMeta {
  return { seq: r.seq, id: r.id, owner: r.owner, name: r.name, size: r.size, contentType: r.contentType as ImageMeta["contentType"], createdAt: r.createdAt };
}
