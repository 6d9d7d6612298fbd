/** Minting invitations (PROTOCOL.md M1–M3), shared by `sis serve`'s first start and `sis admin invite`: 256-bit secret, only its SHA-256 stored. */
import { randomBytes } from "node:crypto";
import { normalizeFingerprint } from "../pki/index.ts";
import { base64url, formatInvitation, INVITATION_SECRET_BYTES } from "../protocol/index.ts";
import { invitationHash } from "../server/membership.ts";
import type { MembershipStore, Millis } from "../server/ports.ts";

/** The server_info key of the address a server last advertised (M2), `HOST:PORT`. */
export const ADDRESS_KEY = "advertised-address";
export const DEFAULT_INVITE_TTL_MS = 7 * 24 * 3600 * 1000;
export const MAX_INVITE_TTL_MS = 365 * 24 * 3600 * 1000;

export interface MintedInvitation {
  id: string;
  /** The whole invitation string; shown once, never stored or logged. */
  text: string;
  username: string | null;
  expiresAt: Millis;
}

/** `address` is `HOST:PORT` (an IPv6 host in brackets); `fingerprint` in any spelling normalizeFingerprint reads. */
export async function mintInvitation(
  store: Pick<MembershipStore, "createInvitation">,
  opts: { address: string; fingerprint: string; username: string | null; ttlMs: number; now?: Millis },
): Promise<MintedInvitation> {
  const m = /^(.+):(\d{1,5})$/.exec(opts.address);
  if (!m) throw new Error(`not a HOST:PORT address: ${opts.address}`);
  const secret = base64url(randomBytes(INVITATION_SECRET_BYTES));
  const id = randomBytes(8).toString("hex");
  const expiresAt = (opts.now ?? Date.now()) + opts.ttlMs;
  await store.createInvitation({ id, secretHash: invitationHash(secret), username: opts.username, expiresAt });
  const text = formatInvitation({ host: m[1]!, port: Number(m[2]), fingerprint: normalizeFingerprint(opts.fingerprint), secret });
  return { id, text, username: opts.username, expiresAt };
}

/** Durations like 7d, 12h, 30m, 45s (one unit); null for anything else. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!m) return null;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
