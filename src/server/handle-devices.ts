/** Devices and usage (PROTOCOL.md M20–M24, M25): link codes, LINK_DEVICE enrolment without the password, the user's certificates, GET_USAGE. */
import { checkCsr, normalizeSerial, PkiError } from "../pki/index.ts";
import { fromBase64, ProtocolError, toBase64, type ClientMessageOf } from "../protocol/index.ts";
import { requireCurrentIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import { canonicalLinkCode, deviceNameProblem, linkCodeHash, newLinkCode } from "./link-code.ts";
import type { Peer } from "./peer.ts";

/** CREATE_LINK: a one-time code for this user, stored hashed, valid for --link-lifetime (10 minutes by default, M20). */
export async function handleCreateLink(ctx: ServerContext, peer: Peer): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  const code = newLinkCode();
  const now = Date.now();
  const expiresAt = now + ctx.limits.linkLifetimeMs;
  await ctx.store.createLinkCode(identity.userId, linkCodeHash(canonicalLinkCode(code)!), now, expiresAt);
  // The code itself is never logged (M20).
  ctx.log.info("link code made", { user: identity.username, serial: identity.serial });
  peer.send({ type: "LINK_CREATED", code, expiresAt });
}

const LINK_WORDS = {
  unknown: "this link code is not valid (mistyped, or never made); make a new one with 'sis devices link' on a registered device",
  used: "this link code was already used; make a new one with 'sis devices link' on a registered device",
  expired: "this link code has expired; make a new one with 'sis devices link' on a registered device",
} as const;

/** LINK_DEVICE: enrols the CSR's key for the code's user, without the password (M22). */
export async function handleLinkDevice(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"LINK_DEVICE">): Promise<void> {
  const device = message.device ?? null;
  if (device !== null) {
    const problem = deviceNameProblem(device);
    if (problem) throw new ProtocolError("BAD_MESSAGE", problem);
  }
  const canonical = canonicalLinkCode(message.code);
  // A malformed code is refused like an unknown one, and fatally: every guess costs a new TLS connection.
  if (canonical === null) throw new ProtocolError("LINK_REFUSED", LINK_WORDS.unknown);
  const csrDer = fromBase64(message.csr);
  // Checked before the code is used up, so a bad CSR does not waste it.
  try {
    await checkCsr(csrDer);
  } catch (error) {
    throw csrError(error);
  }
  const outcome = await ctx.store.consumeLinkCode(linkCodeHash(canonical), Date.now());
  if ("refused" in outcome) {
    ctx.refusalLog.warn("link code refused", { reason: outcome.refused, address: peer.address });
    throw new ProtocolError("LINK_REFUSED", LINK_WORDS[outcome.refused]);
  }
  let issued;
  try {
    issued = await ctx.ca.issueUserCert({ csrDer, username: outcome.username, lifetimeDays: ctx.limits.certLifetimeDays });
  } catch (error) {
    throw csrError(error);
  }
  await ctx.store.addCert({ serial: issued.serial, userId: outcome.userId, der: issued.der, notBefore: issued.notBefore, notAfter: issued.notAfter });
  if (device !== null) await ctx.store.setDeviceName(issued.serial, device);
  ctx.metrics.enrolments++;
  ctx.log.info("device linked", { user: outcome.username, serial: issued.serial, device, address: peer.address });
  peer.send({
    type: "REGISTERED",
    username: outcome.username,
    certificate: toBase64(issued.der),
    caCertificate: toBase64(ctx.ca.certDer),
    serial: issued.serial,
    notAfter: issued.notAfter,
    newUser: false,
  });
}

/** LIST_DEVICES: every certificate of the requesting user (M23). */
export async function handleListDevices(ctx: ServerContext, peer: Peer): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  const devices = await ctx.store.listDevices(identity.userId);
  peer.send({ type: "DEVICES", devices: devices.map((d) => ({ ...d, current: d.serial === identity.serial })) });
}

/** REMOVE_DEVICE: revokes one of the user's own certificates; the revocation watch ends its sessions (M24). */
export async function handleRemoveDevice(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"REMOVE_DEVICE">): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  let serial: string;
  try {
    serial = normalizeSerial(message.serial);
  } catch {
    throw new ProtocolError("NOT_FOUND", "no certificate of yours has that serial; 'sis devices' lists them");
  }
  const cert = await ctx.store.findCert(serial);
  // Another user's certificate is answered like an unknown one.
  if (!cert || cert.userId !== identity.userId) throw new ProtocolError("NOT_FOUND", "no certificate of yours has that serial; 'sis devices' lists them");
  const revoked = await ctx.store.revokeSerial(cert.serial, Date.now());
  ctx.log.warn("device removed", { user: identity.username, serial: cert.serial, by: identity.serial });
  peer.send({ type: "DEVICE_REMOVED", serial: cert.serial, alreadyRevoked: !revoked });
}

/** GET_USAGE: the user's storage against the quota and the post rate (M25). */
export async function handleGetUsage(ctx: ServerContext, peer: Peer): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  const usage = await ctx.store.usageOf(identity.userId);
  peer.send({
    type: "USAGE",
    bytes: usage.bytes,
    inFlight: ctx.postLimits.inFlightOf(identity.username),
    images: usage.images,
    quota: ctx.postLimits.quotaBytes,
    postsPerMinute: ctx.postLimits.postsPerMinute,
    bytesPerMinute: ctx.postLimits.postBytesPerMinute,
  });
}

function csrError(error: unknown): ProtocolError {
  if (error instanceof PkiError && error.code === "WEAK_KEY") return new ProtocolError("WEAK_KEY", "the key in the CSR is too weak: use RSA with at least 2048 bits");
  if (error instanceof PkiError) return new ProtocolError("BAD_CSR", "the certificate request is invalid: its signature or structure does not check out");
  throw error;
}
