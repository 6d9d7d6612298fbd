/** Record → wire: the image metadata every reply and push carries (PROTOCOL.md ImageMeta), and the signature as it is sent (with the server's time-stamp). */
import { addTimeStampToken } from "../crypto/index.ts";
import type { ImageMeta } from "../protocol/index.ts";
import type { Logger } from "./logger.ts";

export type ImageFields = { seq: number; id: string; owner: string; name: string; size: number; contentType: string; createdAt: number };

/** Exactly these fields in this order, nothing else of the record (no key, header or signature). */
export function toMeta(r: ImageFields): ImageMeta {
  return { seq: r.seq, id: r.id, owner: r.owner, name: r.name, size: r.size, contentType: r.contentType as ImageMeta["contentType"], createdAt: r.createdAt };
}

/**
 * T2: the owner's signature as stored, with the server's token added as its unsigned
 * attribute id-aa-signatureTimeStampToken (ENVELOPE.md G8). The signed part stays
 * byte-identical, so every CMS verifier (a client of an earlier build included) accepts
 * it as before; IMAGE keeps its fields. A signature that would outgrow
 * MAX_SIGNATURE_SIZE with the token goes without it (the receiver judges it as of now).
 */
export function signatureWithToken(ctx: { log: Logger }, id: string, signature: Uint8Array, token: Uint8Array | null): Uint8Array {
  if (token === null) return signature;
  try {
    return addTimeStampToken(signature, token);
  } catch (error) {
    ctx.log.warn("image sent without its time-stamp", { id, error: String(error) });
    return signature;
  }
}
