/** PASSWD (M14): a user changes their password on a connection authenticated by a valid certificate. */
import { normalizePassword, passwordProblem, ProtocolError, type ClientMessageOf } from "../protocol/index.ts";
import { requireCurrentIdentity } from "./authorize.ts";
import type { ServerContext } from "./context.ts";
import type { Peer } from "./peer.ts";

export async function handlePasswd(ctx: ServerContext, peer: Peer, message: ClientMessageOf<"PASSWD">): Promise<void> {
  const identity = await requireCurrentIdentity(ctx, peer);
  const current = normalizePassword(message.password);
  const next = normalizePassword(message.newPassword);
  const weak = passwordProblem(next);
  if (weak) throw new ProtocolError("WEAK_PASSWORD", weak);
  // Per certificate (M15): only this device's own failures delay it.
  const wait = await ctx.throttle.passwdRetryAfter(identity.serial);
  if (wait > 0) throw new ProtocolError("THROTTLED", `too many wrong current passwords; wait ${wait} s and try again`, wait);
  const done = await ctx.passwordWork.run(async () => {
    const user = await ctx.store.findUser(identity.username);
    if (!user) return "gone" as const;
    if (!(await Bun.password.verify(current, user.passwordHash))) return "wrong" as const;
    const hash = await Bun.password.hash(next, { algorithm: "argon2id" });
    return (await ctx.store.setPasswordHash(user.id, hash)) ? ("changed" as const) : ("gone" as const);
  });
  if (!done) throw new ProtocolError("BUSY", "the server is busy; try again in a few seconds");
  if (done === "gone") throw new ProtocolError("CERT_REVOKED", "your account no longer exists on this server");
  await ctx.throttle.passwdResult(identity.serial, done === "changed");
  if (done === "wrong") {
    ctx.log.info("password change refused", { user: identity.username, serial: identity.serial, address: peer.address });
    throw new ProtocolError("AUTH_FAILED", "the current password is wrong");
  }
  ctx.log.info("password changed", { user: identity.username, serial: identity.serial, address: peer.address });
  peer.send({ type: "PASSWD_CHANGED", username: identity.username });
}
