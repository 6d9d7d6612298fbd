/** RENEW (RN1–RN4): a new certificate for the authenticated user, over mutual TLS with the current one, no password. */
import { checkCsr } from "../pki/index.ts";
import { fromBase64, toBase64, type ClientMessageOf } from "../protocol/index.ts";
import { requireCurrentIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import { csrRefusal as csrError } from "./csr-error.ts";
import type { Peer } from "./peer.ts";

export async function handleRenew(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"RENEW">): Promise<void> {
  // RN1: the certificate the connection presented, asked of the store again now: valid and unrevoked.
  const identity = await requireCurrentIdentity(ctx, peer);
  const csrDer = fromBase64(message.csr);
  // RN2: the CSR's proof of possession and key size, as for REGISTER (P14); its subject is ignored.
  try {
    await checkCsr(csrDer);
  } catch (error) {
    throw csrError(error);
  }
  let issued;
  try {
    // RN2: the subject is the authenticated user's name, never one the request asks for.
    issued = await ctx.ca.issueUserCert({ csrDer, username: identity.username, lifetimeDays: ctx.limits.certLifetimeDays });
  } catch (error) {
    throw csrError(error);
  }
  // RN4: a new record; the presented certificate is not revoked and stays valid until it expires.
  await ctx.store.addCert({ serial: issued.serial, userId: identity.userId, der: issued.der, notBefore: issued.notBefore, notAfter: issued.notAfter });
  ctx.metrics.renewals++;
  ctx.log.info("certificate renewed", { user: identity.username, serial: issued.serial, previous: identity.serial, address: peer.address });
  peer.send({
    type: "RENEWED",
    username: identity.username,
    certificate: toBase64(issued.der),
    caCertificate: toBase64(ctx.ca.certDer),
    serial: issued.serial,
    notAfter: issued.notAfter,
  });
}
