/** SHA-256 certificate fingerprints, displayed the way `openssl x509 -fingerprint -sha256` prints them. */
import { createHash } from "node:crypto";
import { PkiError } from "./errors.ts";

/** "AB:CD:…" — upper-case hex pairs joined by colons, over the certificate's DER. */
export function fingerprint(certDer: Uint8Array): string {
  const hex = createHash("sha256").update(certDer).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

/**
 * Reads a fingerprint typed or pasted by a user: ignores an optional
 * "sha256 Fingerprint=" prefix, colons, spaces and case. Returns 64 lower-case
 * hex chars; anything else is refused rather than guessed at.
 */
export function normalizeFingerprint(input: string): string {
  const s = input
    .trim()
    .replace(/^sha-?256\s*fingerprint\s*=/i, "")
    .replace(/[:\s]/g, "")
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) {
    throw new PkiError("BAD_CERT", "fingerprint must be 64 hex digits (SHA-256)");
  }
  return s;
}
