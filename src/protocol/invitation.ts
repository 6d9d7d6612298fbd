/** The invitation string (PROTOCOL.md M2): `sis1:HOST:PORT:FINGERPRINT_HEX:SECRET_B64URL`, made and read here only. */

export const INVITATION_PREFIX = "sis1";
/** 32 random bytes: 256 bits, so guessing is hopeless and SHA-256 storage is enough (M3). */
export const INVITATION_SECRET_BYTES = 32;
const SECRET = /^[A-Za-z0-9_-]{43}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;

export interface Invitation {
  /** A host name, an IPv4 address, or an IPv6 address in brackets. */
  host: string;
  port: number;
  /** SHA-256 of the CA certificate's DER, 64 lower-case hex characters. */
  fingerprint: string;
  /** The secret, base64url without padding (43 characters). */
  secret: string;
}

export function formatInvitation(inv: Invitation): string {
  return `${INVITATION_PREFIX}:${inv.host}:${inv.port}:${inv.fingerprint}:${inv.secret}`;
}

/** Parses from the right, so an IPv6 host in brackets may hold colons; null for anything else. */
export function parseInvitation(text: string): Invitation | null {
  const t = text.trim();
  if (!t.startsWith(`${INVITATION_PREFIX}:`) || t.length > 400) return null;
  const parts = t.slice(INVITATION_PREFIX.length + 1).split(":");
  if (parts.length < 4) return null;
  const secret = parts.pop()!;
  const fingerprint = parts.pop()!.toLowerCase();
  const portText = parts.pop()!;
  const host = parts.join(":");
  const port = Number(portText);
  if (!SECRET.test(secret) || !FINGERPRINT.test(fingerprint) || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return null;
  if (host === "" || /[\s/@]/.test(host) || (host.includes(":") && !/^\[[0-9a-fA-F:.]+\]$/.test(host))) return null;
  return { host, port, fingerprint, secret };
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

export function fromBase64url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64url"));
}
