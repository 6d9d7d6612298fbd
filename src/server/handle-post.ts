/** POST_IMAGE of protocol version 1 (P19–P22): check the declaration, stream the ciphertext to disk, commit, announce. */
import { DATA, fromBase64, ProtocolError, type ClientMessageOf } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { Peer, Upload } from "./peer.ts";
import type { NewImage } from "./ports.ts";
import { checkDeclaration, checkWrappedKey, commitImage, reserveUpload, type Reserved } from "./upload-steps.ts";

/** Version 1: checks the declaration, then hands the peer an Upload that takes the DATA frames (P19, P20). */
export async function startUpload(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"POST_IMAGE"> & { signature: string }): Promise<void> {
  // A version-2 connection posts with upload ids only (P30): the two forms never mix on one connection.
  if (peer.version >= 2) throw new ProtocolError("BAD_MESSAGE", "POST_IMAGE on a version-2 connection carries an upload id and no signature (P30)");
  const { identity, headerBytes, wrappedKey } = await checkDeclaration(ctx, peer, message);
  const { name, contentType, size, dataSize } = message;
  const contentKey = await checkWrappedKey(ctx, wrappedKey);
  let reserved: Reserved;
  try {
    reserved = await reserveUpload(ctx, identity, name, dataSize);
  } catch (error) {
    contentKey.fill(0);
    throw error;
  }
  const { id, writer, finish } = reserved;
  let remaining = dataSize;

  const image: NewImage = {
    id, ownerId: identity.userId, owner: identity.username, name, contentType, size, cipherSize: dataSize,
    header: headerBytes, signature: fromBase64(message.signature), wrappedKey, signerSerial: identity.serial,
  };
  const abort = async () => {
    contentKey.fill(0);
    await finish(false);
  };

  const upload: Upload = {
    abort,
    async receive(frame) {
      if (frame.kind !== DATA) {
        await abort();
        throw new ProtocolError("BAD_UPLOAD", `${remaining} bytes of the image are still missing`);
      }
      if (frame.payload.length > remaining) {
        await abort();
        throw new ProtocolError("BAD_UPLOAD", "more image bytes than declared");
      }
      peer.touch(ctx.limits.uploadStallTimeoutMs);
      try {
        await writer.write(frame.payload);
        remaining -= frame.payload.length;
        if (remaining > 0) return;
        await writer.commit();
      } catch (error) {
        await abort();
        peer.endUpload();
        ctx.log.error("cannot store upload", { id, error: String(error) });
        throw new ProtocolError("STORAGE_FAILED", "the server could not store the image; nothing was kept, try again later");
      }
      peer.endUpload();
      await commitImage(ctx, peer, image, finish, contentKey);
    },
  };
  // The connection may have closed while this request awaited: the session aborts the upload then.
  if (!peer.beginUpload(upload)) return;
  ctx.log.debug("upload started", { id, owner: identity.username, name, size, address: peer.address });
  peer.touch(ctx.limits.uploadStallTimeoutMs);
  peer.send({ type: "UPLOAD_READY" });
}

