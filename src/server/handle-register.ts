/** REGISTER (P13–P18): create a user or enrol a new key, then issue a certificate for the CSR. */
import { checkCsr, PkiError } from "../pki/index.ts";
import { fromBase64, isValidUsername, normalizePassword, passwordProblem, ProtocolError, toBase64, type ClientMessageOf } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { Peer } from "./peer.ts";
import { deviceNameProblem } from "./link-code.ts";
import { StoreConflictError, type UserRecord } from "./ports.ts";
import { authenticateMember, type MemberOutcome } from "./membership.ts";

type Outcome = MemberOutcome;

export async function handleRegister(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"REGISTER">): Promise<void> {
  // Absent only with an invitation (the schema's second form), whose own name is then the user's (M4); the store refuses one that names none.
  const username = "username" in message ? message.username : null;
  // Hashed and verified as the UTF-8 of its NFC form (P13): the same password typed on any platform.
  const password = normalizePassword(message.password);
  if (username !== null && !isValidUsername(username)) {
    throw new ProtocolError("BAD_USERNAME", "a username is 2 to 32 characters: lower-case letters, digits, '-' and '_', starting with a letter");
  }
  const weak = passwordProblem(password);
  if (weak) throw new ProtocolError("WEAK_PASSWORD", weak);

  // An invitation without a name has only the address to be throttled by ("" is a name nobody can fail as).
  const wait = await ctx.throttle.retryAfter(username ?? "", peer.address);
  if (wait > 0) throw new ProtocolError("THROTTLED", `too many failed attempts; wait ${wait} s and try again`, wait);

  const csrDer = fromBase64(message.csr);
  // Checked before the password so that a bad request never costs argon2id.
  try {
    await checkCsr(csrDer);
  } catch (error) {
    throw csrError(error);
  }

  // Membership (M4–M10): invitations, open registration and disabled accounts are decided in membership.ts.
  const outcome = await ctx.passwordWork.run(() => authenticateMember(ctx, username, password, message.invitation, authenticate));
  if (!outcome) throw new ProtocolError("BUSY", "the server is busy; try again in a few seconds");
  if ("failed" in outcome) {
    // Only a password login fails (an invitation is refused with its code instead), and it always has a name.
    await ctx.throttle.recordFailure(username ?? "", peer.address);
    ctx.metrics.loginsFailed++;
    ctx.log.info("login failed", { user: username, address: peer.address });
    // One answer for every failed login (P16): the same code and the same words.
    throw new ProtocolError("AUTH_FAILED", "wrong username or password");
  }
  await ctx.throttle.recordSuccess(outcome.user.username);
  const user = outcome.user.username;

  let issued;
  try {
    issued = await ctx.ca.issueUserCert({ csrDer, username: user, lifetimeDays: ctx.limits.certLifetimeDays });
  } catch (error) {
    throw csrError(error);
  }
  await ctx.store.addCert({ serial: issued.serial, userId: outcome.user.id, der: issued.der, notBefore: issued.notBefore, notAfter: issued.notAfter });
  // (M21) The device name, checked like LINK_DEVICE's; a bad one is dropped rather than costing the enrolment.
  if (message.device !== undefined && deviceNameProblem(message.device) === null) await ctx.store.setDeviceName(issued.serial, message.device);
  if (outcome.newUser) ctx.metrics.registrations++;
  else ctx.metrics.enrolments++;
  ctx.log.info(outcome.newUser ? "user registered" : "key enrolled", { user, serial: issued.serial, address: peer.address });
  peer.send({
    type: "REGISTERED",
    username: user,
    certificate: toBase64(issued.der),
    caCertificate: toBase64(ctx.ca.certDer),
    serial: issued.serial,
    notAfter: issued.notAfter,
    newUser: outcome.newUser,
  });
}

/** Creates the user, or checks the password of an existing one. */
async function authenticate(store: ServerContext["store"], username: string, password: string): Promise<Outcome> {
  const existing = await store.findUser(username);
  if (existing) {
    const ok = await Bun.password.verify(password, existing.passwordHash);
    return ok ? { user: existing, newUser: false } : { failed: true };
  }
  const hash = await Bun.password.hash(password, { algorithm: "argon2id" });
  try {
    return { user: await store.createUser(username, hash), newUser: true };
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
    // Registered by a concurrent request meanwhile: treat this as a login.
    const now = await store.findUser(username);
    // A deleted user's name stays reserved so nobody inherits that identity.
    if (!now) throw new ProtocolError("BAD_USERNAME", "this username is not available; choose another");
    return (await Bun.password.verify(password, now.passwordHash)) ? { user: now, newUser: false } : { failed: true };
  }
}

function csrError(error: unknown): ProtocolError {
  if (error instanceof PkiError && error.code === "WEAK_KEY") return new ProtocolError("WEAK_KEY", "the key in the CSR is too weak: use RSA with at least 2048 bits");
  if (error instanceof PkiError) return new ProtocolError("BAD_CSR", "the certificate request is invalid: its signature or structure does not check out");
  throw error;
}
