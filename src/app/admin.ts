/** The wiring of `sis admin`: the server's store (admin-place.ts) opened behind the ports, and the revocations and listing done on it (safe while the server runs). */
import { normalizeSerial } from "../pki/index.ts";
import type { RevocationDetail } from "../server/ports.ts";
import { AdminError, withStore, type Where } from "./admin-place.ts";

export { AdminError, withStore, type AdminPlace, type Where } from "./admin-place.ts";

export interface SerialRevocation {
  serial: string;
  username: string;
  /** False when it had been revoked before. */
  revoked: boolean;
}

export function revokeSerial(data: Where, serialText: string, now = Date.now(), detail: RevocationDetail = {}): Promise<SerialRevocation> {
  return withStore(data, async (store) => {
    const serial = normalizeSerial(serialText);
    const cert = await store.findCert(serial);
    if (!cert) throw new AdminError(`no certificate with serial ${serial}; 'sis admin certs' lists them`);
    return { serial, username: cert.username, revoked: await store.revokeSerial(serial, now, detail) };
  });
}

/** Revokes every valid certificate of `user` (each with `detail`); returns how many. */
export function revokeUser(data: Where, user: string, now = Date.now(), detail: RevocationDetail = {}): Promise<number> {
  return withStore(data, async (store) => {
    if (!(await store.findUser(user))) throw new AdminError(`no user '${user}'`);
    return store.revokeUser(user, now, detail);
  });
}

/** The reasons `sis admin revoke --reason` takes (RFC 5280 CRLReason names; ENVELOPE.md V13). */
export const REVOKE_REASONS = ["keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified"] as const;

/**
 * T7: --reason and --compromised-since as a RevocationDetail. --compromised-since implies
 * keyCompromise and must not be later than the revocation (`now`); a time without a zone is UTC.
 */
export function revocationDetail(opts: { reason?: string; compromisedSince?: string }, now = Date.now()): RevocationDetail {
  const reason = opts.reason ?? (opts.compromisedSince !== undefined ? "keyCompromise" : "unspecified");
  if (!(REVOKE_REASONS as readonly string[]).includes(reason)) throw new AdminError(`--reason must be one of ${REVOKE_REASONS.join(", ")}, not '${reason}'`);
  const detail: RevocationDetail = { reason: reason as (typeof REVOKE_REASONS)[number] };
  if (opts.compromisedSince !== undefined) {
    if (reason !== "keyCompromise") throw new AdminError("--compromised-since goes with --reason keyCompromise (or no --reason)");
    const text = opts.compromisedSince.trim();
    const at = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes("T") ? text : `${text}Z`);
    if (!Number.isFinite(at)) throw new AdminError(`--compromised-since '${opts.compromisedSince}' is not a time; write it as 2026-05-01T10:00:00Z`);
    if (at > now) throw new AdminError(`--compromised-since ${new Date(at).toISOString()} is in the future; a key cannot be known compromised before it was`);
    detail.invalidityDate = at;
  }
  return detail;
}

export interface CertStatus {
  user: string;
  serial: string;
  /** ISO 8601. */
  notAfter: string;
  status: "valid" | "expired" | "revoked";
}

export function certStatuses(data: Where, now = Date.now()): Promise<CertStatus[]> {
  return withStore(data, async (store) =>
    (await store.listCerts()).map((c) => ({
      user: c.username,
      serial: c.serial,
      notAfter: new Date(c.notAfter).toISOString(),
      status: c.revokedAt !== null ? "revoked" : c.notAfter < now ? "expired" : "valid",
    })),
  );
}
