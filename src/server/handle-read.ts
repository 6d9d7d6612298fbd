/** DOWNLOAD, LIST and GET_CRL (P23–P26): metadata from the store, ciphertext streamed from disk. */
import { wrapKey } from "../crypto/index.ts";
import { encodeImagesPage, LIST_PAGE_DEFAULT, ProtocolError, toBase64, type ClientMessageOf } from "../protocol/index.ts";
import { requireCurrentIdentity, requireIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import type { Peer } from "./peer.ts";
import { sendBlob } from "./send-blob.ts";
import { signatureWithToken, toMeta } from "./wire-image.ts";

/** CRL chunks (the CRL is small and in memory). */
const STREAM_CHUNK = 256 * 1024;

export async function handleDownload(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"DOWNLOAD">): Promise<void> {
  // Asked again at every DOWNLOAD, not only at HELLO: the re-wrapped key is what a revocation withholds (P5a).
  const identity = await requireCurrentIdentity(ctx, peer);
  const record = "id" in message ? await ctx.store.findImage(message.id) : await ctx.store.findImageByName(message.owner, message.name);
  if (!record) throw new ProtocolError("NOT_FOUND", "no such image; 'sis list' shows what there is");
  const ownerCert = await ctx.store.findCert(record.signerSerial);
  if (!ownerCert) throw new ProtocolError("NOT_FOUND", "the owner of this image is no longer registered");
  // Version 4 (P23a): the ciphertext is one continuous chunk stream, so any byte of it continues it.
  const from = message.from ?? 0;
  if (from < 0 || from >= record.cipherSize) {
    throw new ProtocolError("BAD_RANGE", `from ${from} is not a byte of this image's ${record.cipherSize} bytes of ciphertext; download it without from`);
  }
  const size = record.cipherSize - from;

  // Re-wrap (P24): the key passes through server memory, the image never does.
  let contentKey: Uint8Array;
  try {
    contentKey = await ctx.contentKeys.get(record.id, record.wrappedKey);
  } catch (error) {
    ctx.log.error("cannot unwrap stored key", { id: record.id, error: String(error) });
    throw new ProtocolError("INTERNAL", "the server cannot open this image's key");
  }
  const wrappedForRequester = await wrapKey(contentKey, identity.certDer);
  contentKey.fill(0);
  // (M28) The blob is opened before IMAGE is sent. Deleted meanwhile (sis rm), it is NOT_FOUND;
  // once open, a delete does not cut the download short (an unlinked file stays readable while open).
  let reader;
  try {
    reader = await ctx.blobs.open(record.id, from);
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== "ENOENT") throw error;
    throw new ProtocolError("NOT_FOUND", "this image was deleted; 'sis list' shows what there is");
  }

  peer.send({
    type: "IMAGE",
    image: toMeta(record),
    header: toBase64(record.header),
    ownerCertificate: toBase64(ownerCert.der),
    signature: toBase64(signatureWithToken(ctx, record.id, record.signature, record.timestampToken)),
    wrappedKey: toBase64(wrappedForRequester),
    dataSize: record.cipherSize,
    // Only when asked: a DOWNLOAD without `from` gets the same IMAGE as on versions 1–3.
    ...(message.from !== undefined ? { from } : {}),
  });
  let result;
  try {
    // No GC pacing here: sendBlob reuses its frame buffers, so a download makes no garbage per chunk.
    result = await sendBlob(peer, reader, size);
  } finally {
    await reader.close();
  }
  if (peer.closed) return;
  if (result.sent !== size || result.extra) {
    ctx.log.error("blob size differs from record", { id: record.id, from, sent: result.sent, extra: result.extra, expected: size });
    throw new ProtocolError("INTERNAL", "the stored image is damaged");
  }
  ctx.metrics.downloads++;
  ctx.metrics.downloadBytes += size;
  if (from > 0) ctx.metrics.rangedDownloads++;
  ctx.log.info("image sent", { id: record.id, owner: record.owner, to: identity.username, serial: identity.serial, ...(from > 0 ? { from } : {}) });
}

export async function handleList(ctx: Pick<ServerContext, "store">, peer: Peer, message: ClientMessageOf<"LIST">): Promise<void> {
  requireIdentity(peer);
  const limit = message.limit ?? LIST_PAGE_DEFAULT;
  if (message.before !== undefined && message.after !== undefined) throw new ProtocolError("BAD_MESSAGE", "LIST takes before or after, not both");
  // One more than asked for tells whether more follow (D5): `next` is non-null only then.
  const query = message.after !== undefined ? { after: message.after, limit: limit + 1 } : { ...(message.before !== undefined ? { before: message.before } : {}), limit: limit + 1 };
  const found = await ctx.store.listImages(query);
  const images = found.slice(0, limit).map(toMeta);
  peer.sendControl(encodeImagesPage(images, found.length > limit));
}

export async function handleGetCrl(ctx: Pick<ServerContext, "crl">, peer: Peer): Promise<void> {
  const der = await ctx.crl.current();
  peer.send({ type: "CRL", dataSize: der.length });
  for (let offset = 0; offset < der.length; offset += STREAM_CHUNK) peer.sendData(der.subarray(offset, offset + STREAM_CHUNK));
}
