/**
 * POST_IMAGE and POST_SIGNATURE of protocol version 2 (PROTOCOL.md P30–P37): the same checks as
 * version 1, the key check off the round trip, the signature after the data and checked before
 * the commit.
 */
import { SignatureError, verifyImageSignatureShape } from "../crypto/index.ts";
import { aboutUpload, fromBase64, ProtocolError, type ClientMessageOf } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { checkDeclaration, checkWrappedKey, commitImage, reserveUpload } from "./upload-steps.ts";
import type { Peer } from "./peer.ts";
import type { PipelinedUpload, PostPipeline } from "./post-pipeline.ts";
import type { NewImage } from "./ports.ts";
import { Delivery, type IncomingImage } from "./cut-through.ts";
import { signatureWithToken } from "./wire-image.ts";

/** The session's pipeline, on a version-2 connection only (P30): elsewhere the message does not exist. */
function pipelineOf(peer: Peer, what: string): PostPipeline {
  if (peer.version < 2 || !peer.pipeline) throw new ProtocolError("BAD_MESSAGE", `${what} with an upload id needs protocol version 2 (P30)`);
  return peer.pipeline;
}

export async function startPipelinedUpload(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"POST_IMAGE"> & { upload: number }): Promise<void> {
  const pipeline = pipelineOf(peer, "POST_IMAGE");
  const uploadId = message.upload;
  try {
    pipeline.admit(uploadId);
    await announce(ctx, peer, pipeline, message);
  } catch (error) {
    throw aboutUpload(error, uploadId);
  }
}

async function announce(ctx: ServerContext, peer: Peer, pipeline: PostPipeline, message: ClientMessageOf<"POST_IMAGE"> & { upload: number }): Promise<void> {
  const { identity, headerBytes, wrappedKey } = await checkDeclaration(ctx, peer, message);
  const { name, contentType, size, dataSize, upload: uploadId } = message;
  // P35: the RSA unwrap runs while the data streams; it is awaited before the commit.
  const keyCheck = checkWrappedKey(ctx, wrappedKey);
  keyCheck.catch(() => {}); // reported by complete(), which awaits it
  const zeroKey = () => void keyCheck.then((key) => key.fill(0), () => {});
  let reserved;
  try {
    reserved = await reserveUpload(ctx, identity, name, dataSize);
  } catch (error) {
    zeroKey();
    throw error;
  }
  const { id, writer, finish } = reserved;
  const image: Omit<NewImage, "signature"> = {
    id, ownerId: identity.userId, owner: identity.username, name, contentType, size, cipherSize: dataSize,
    header: headerBytes, wrappedKey, signerSerial: identity.serial,
  };
  // P41: the watchers connected now get the ciphertext while it arrives; DELIVERED or DROPPED ends it.
  const delivery = Delivery.start(ctx, { id, owner: identity.username, name, contentType: contentType as IncomingImage["contentType"], size, dataSize, header: headerBytes }, keyCheck);
  let sealing: Promise<void> | null = null;
  let aborted = false;
  /** The checks passed and commitImage runs: from here it alone decides about the blob (it may be in a committed row). */
  let committing = false;
  const storageFailed = (error: unknown, what: string) => {
    ctx.log.error(what, { id, error: String(error) });
    return new ProtocolError("STORAGE_FAILED", "the server could not store the image; nothing was kept, try again later");
  };

  const upload: PipelinedUpload = {
    id: uploadId,
    remaining: dataSize,
    async write(payload) {
      peer.touch(ctx.limits.uploadStallTimeoutMs);
      delivery?.chunk(payload); // a copy, made now: the payload's buffer is reused once this resolves
      try {
        await writer.write(payload);
      } catch (error) {
        throw storageFailed(error, "cannot store upload");
      }
    },
    seal() {
      sealing ??= writer.commit();
      return sealing;
    },
    async complete(signatureBytes) {
      try {
        await upload.seal();
      } catch (error) {
        throw storageFailed(error, "cannot store upload");
      }
      const contentKey = await keyCheck; // BAD_UPLOAD (fatal) if it does not unwrap
      try {
        // P34: what the server can check without the plaintext; receivers check the digest (V5).
        await verifyImageSignatureShape({ cms: signatureBytes, owner: image.owner, name: image.name, contentType: image.contentType });
      } catch (error) {
        contentKey.fill(0);
        if (!(error instanceof SignatureError)) throw error;
        throw new ProtocolError("BAD_SIGNATURE", `the signature of ${JSON.stringify(image.name)} does not verify (${error.code}); nothing was kept`);
      }
      if (aborted) {
        contentKey.fill(0);
        return; // the connection went meanwhile: abort() released everything
      }
      committing = true;
      let recorded = false;
      try {
        await commitImage(ctx, peer, { ...image, signature: signatureBytes }, finish, contentKey, uploadId, (meta, record) => {
          recorded = true;
          delivery?.delivered(meta, signatureWithToken(ctx, record.id, record.signature, record.timestampToken));
        });
      } finally {
        // Abandoned or failed before the record: the receivers remove their partial files (P43).
        if (!recorded) delivery?.dropped();
      }
    },
    async abort() {
      if (aborted || committing) return;
      delivery?.dropped();
      aborted = true;
      zeroKey();
      await finish(false);
      // A blob already renamed into place (sealed) is not recorded: it goes too.
      if (sealing) {
        await sealing.catch(() => {});
        await ctx.blobs.remove(id).catch(() => {});
      }
    },
  };
  // The connection may have closed while this request awaited: nothing else would abort it.
  if (peer.closed) {
    await upload.abort();
    return;
  }
  pipeline.add(upload);
  ctx.log.debug("upload started", { id, upload: uploadId, owner: identity.username, name, size, address: peer.address });
  peer.touch(ctx.limits.uploadStallTimeoutMs);
  peer.send({ type: "UPLOAD_READY", upload: uploadId });
}

/** POST_SIGNATURE (P33): the upload's commit starts; its POSTED or ERROR follows later. */
export function handlePostSignature(_ctx: ServerContext, peer: Peer, message: ClientMessageOf<"POST_SIGNATURE">): void {
  // On a version-1 connection the message does not exist, exactly as on a server of version 1.
  if (peer.version < 2 || !peer.pipeline) throw new ProtocolError("UNKNOWN_MESSAGE", "unknown message type \"POST_SIGNATURE\"");
  try {
    peer.pipeline.signature(message.upload, fromBase64(message.signature));
  } catch (error) {
    throw aboutUpload(error, message.upload);
  }
}
