/** Revocation by date (RFC 5280 5.3; ENVELOPE.md V13): CRL reasons, and whether a revoked certificate's signature made at a time still stands. */
import { x509 } from "./setup.ts";

/** The RFC 5280 CRLReason names sis writes and reads (removeFromCRL belongs to delta CRLs, which sis does not use). */
export const CRL_REASONS = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cACompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  certificateHold: x509.X509CrlReason.certificateHold,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
  aACompromise: x509.X509CrlReason.aACompromise,
} as const;

export type CrlReason = keyof typeof CRL_REASONS;

/** One CRL entry as sis reads and writes it. Times are milliseconds since the epoch. */
export interface RevocationEntry {
  /** Normalised hex (normalizeSerial). */
  serial: string;
  revokedAt: number;
  /** Absent means unspecified (RFC 5280 says to omit the reasonCode rather than write unspecified). */
  reason?: CrlReason;
  /** When the key is known or suspected to have been compromised (invalidityDate entry extension). */
  invalidityDate?: number;
}

/** Reasons that say the private key (or the authority behind it) may be in other hands. */
export const COMPROMISE_REASONS: ReadonlySet<CrlReason> = new Set<CrlReason>(["keyCompromise", "cACompromise", "aACompromise"]);

export function reasonName(code: number): CrlReason | undefined {
  return (Object.keys(CRL_REASONS) as CrlReason[]).find((name) => CRL_REASONS[name] === code);
}

/**
 * V13: why a signature by the revoked certificate `entry` is refused, or null if it still stands.
 * `signedAt` is the genTime of a verified time-stamp on it; without one the signature is judged
 * as made now, after the revocation, and refused. A time-stamp before the revocation keeps the
 * signature valid, unless the key was compromised: then everything stamped at or after the
 * invalidity date is refused (at or after the revocation date, if that is earlier), and
 * everything if no invalidity date is given.
 */
export function revocationRefusal(entry: RevocationEntry, signedAt: Date | undefined): string | null {
  if (signedAt === undefined) return "certificate has been revoked";
  const t = signedAt.getTime();
  if (entry.reason !== undefined && COMPROMISE_REASONS.has(entry.reason)) {
    if (entry.invalidityDate === undefined) return "certificate was revoked because its key was compromised: none of its signatures can be trusted";
    const since = Math.min(entry.invalidityDate, entry.revokedAt);
    if (t >= since) return `certificate's key was compromised from ${new Date(since).toISOString()}, and this signature was time-stamped after that`;
    return null;
  }
  if (t >= entry.revokedAt) return `certificate was revoked on ${new Date(entry.revokedAt).toISOString()}, before this signature was time-stamped`;
  return null;
}
