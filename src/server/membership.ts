/** Who may become a user (PROTOCOL.md M4–M10): an invitation redeemed with the new user, open registration, disabled accounts refused. */
import { createHash } from "node:crypto";
import { fromBase64url, ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { UserRecord } from "./ports.ts";
import { StoreConflictError } from "./ports.ts";

export type MemberOutcome = { user: UserRecord; newUser: boolean } | { failed: true };

/** A fixed argon2id hash to verify against when no user is involved, so that an unknown name costs what a known one does (P16). */
let dummyHash: Promise<string> | null = null;

export function invitationHash(secret: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(fromBase64url(secret)).digest());
}

const INVITE_WORDS: Record<string, string> = {
  INVITE_UNKNOWN: "this invitation is not known to the server (mistyped, revoked, or from another server); ask the operator for a new one",
  INVITE_USED: "this invitation has been used already; each one registers one user: ask the operator for a new one",
  INVITE_EXPIRED: "this invitation has expired; ask the operator for a new one ('sis admin invite')",
};

/**
 * REGISTER's decision. With an invitation: always a new user, created in the
 * transaction that marks the invitation used (M5). Without: an existing user
 * enrols with the password unless disabled (M10); an unknown name is created
 * only under --open-registration, and otherwise gets AUTH_FAILED like a
 * wrong password (M6), after the same argon2id work.
 */
export async function authenticateMember(
  ctx: Pick<ServerContext, "store" | "openRegistration" | "log">,
  username: string | null,
  password: string,
  invitation: string | undefined,
  passwordLogin: (store: ServerContext["store"], username: string, password: string) => Promise<MemberOutcome>,
): Promise<MemberOutcome> {
  if (invitation !== undefined) return redeem(ctx, username, password, invitation);
  // The schema has no REGISTER with neither a name nor an invitation (BAD_MESSAGE).
  if (username === null) throw new ProtocolError("BAD_USERNAME", "a username is required");
  const existing = await ctx.store.findUser(username);
  if (!existing && !ctx.openRegistration) {
    dummyHash ??= Bun.password.hash("sis: no such user", { algorithm: "argon2id" });
    await Bun.password.verify(password, await dummyHash);
    return { failed: true };
  }
  const outcome = await passwordLogin(ctx.store, username, password);
  // Told only to whoever knows the password (M10): the account exists and is disabled.
  if (!("failed" in outcome) && outcome.user.disabledAt) {
    throw new ProtocolError("ACCOUNT_DISABLED", "this account is disabled by the server's administrator; ask them to enable it");
  }
  return outcome;
}

async function redeem(ctx: Pick<ServerContext, "store" | "log">, username: string | null, password: string, secret: string): Promise<MemberOutcome> {
  const hash = await Bun.password.hash(password, { algorithm: "argon2id" });
  let result;
  try {
    result = await ctx.store.redeemInvitation(invitationHash(secret), username, hash, Date.now());
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
    throw new ProtocolError("BAD_USERNAME", username === null
      ? "the username this invitation was made for is taken; ask the operator for a new invitation (this one was not used)"
      : `the username ${username} is taken; choose another (the invitation was not used)`);
  }
  if ("refused" in result) {
    // Never the secret in the log (M3): only the outcome.
    ctx.log.info("invitation refused", { user: username, code: result.refused });
    if (result.refused === "NO_USERNAME") {
      throw new ProtocolError("BAD_USERNAME", "this invitation is for a name of your choosing: give it with --user NAME (the invitation was not used)");
    }
    if (result.refused === "INVITE_WRONG_USER") {
      throw new ProtocolError("INVITE_WRONG_USER", "this invitation is for another username; register with the name the operator gave you with it");
    }
    throw new ProtocolError(result.refused, INVITE_WORDS[result.refused]!);
  }
  return { user: result.user, newUser: true };
}
