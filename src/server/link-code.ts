/** One-time link codes (PROTOCOL.md M20): 80 random bits as 16 Crockford base32 characters in four groups, stored as their SHA-256. */
import { createHash, randomBytes } from "node:crypto";

/** Crockford's alphabet: no I, L, O, U, so a code read aloud or typed is hard to get wrong. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const LINK_CODE_BITS = 80;

/** A fresh code: XXXX-XXXX-XXXX-XXXX (80 bits from the system's CSPRNG). */
export function newLinkCode(): string {
  const bytes = randomBytes(LINK_CODE_BITS / 8);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = "";
  for (let i = 0; i < LINK_CODE_BITS / 5; i++) {
    out = ALPHABET[Number(bits & 31n)]! + out;
    bits >>= 5n;
  }
  return out.match(/.{4}/g)!.join("-");
}

/** The code as typed to its canonical 16 characters (case, spaces and dashes ignored; O→0, I/L→1), or null if it cannot be one. */
export function canonicalLinkCode(typed: string): string | null {
  const s = typed.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (s.length !== LINK_CODE_BITS / 5) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

/** What the store keeps: the SHA-256 of the canonical code (80 random bits need no slow hash). */
export function linkCodeHash(canonical: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(canonical, "utf8").digest());
}

/** A device name (M21): 1 to 64 characters, no control characters; null if it is not one. */
export function deviceNameProblem(name: string): string | null {
  if (name.length < 1 || name.length > 64) return "a device name is 1 to 64 characters";
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(name)) return "a device name has no control or format characters";
  return null;
}
