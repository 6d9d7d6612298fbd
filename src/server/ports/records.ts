/** The records the store ports (src/server/ports.ts) read and write: plain data, no behaviour. */
import type { CrlReason } from "../../pki/revocation.ts";

/** Unix milliseconds everywhere. */
export type Millis = number;

export interface UserRecord {
  id: number;
  username: string;
  /** Argon2id PHC string from Bun.password.hash. */
  passwordHash: string;
  createdAt: Millis;
  /** Membership (M10): when an administrator disabled the account, or null. Optional so older backends still fit. */
  disabledAt?: Millis | null;
}

export interface CertRecord {
  /** Normalised serial: lower-case hex, no leading zero bytes, no colons. */
  serial: string;
  userId: number;
  username: string;
  /** Exact DER bytes as issued. */
  der: Uint8Array;
  notBefore: Millis;
  notAfter: Millis;
  revokedAt: Millis | null;
  createdAt: Millis;
  /** Membership (M10): the owner's account is disabled; every certificate of theirs is refused meanwhile. */
  userDisabled?: boolean;
  /** Time-stamps, revocation by date (ENVELOPE.md V13): the CRL reason name, absent when unspecified. */
  revocationReason?: CrlReason;
  /** When the key is known or suspected to have been compromised; absent when not given. */
  invalidityDate?: Millis;
}

/** What `sis admin revoke` says about a revocation (ENVELOPE.md V13): a CRL reason name and an invalidity date. */
export interface RevocationDetail {
  /** An RFC 5280 CRLReason name (src/pki/revocation.ts CRL_REASONS); absent or "unspecified" is stored as none. */
  reason?: CrlReason;
  invalidityDate?: Millis;
}

export interface NewCert {
  serial: string;
  userId: number;
  der: Uint8Array;
  notBefore: Millis;
  notAfter: Millis;
}

export interface ImageRecord {
  /** Monotonic sequence number: the order images were stored in; catch-up cursor. */
  seq: number;
  /** Server-made random id (32 lower-case hex chars); the only thing a blob path is made of. */
  id: string;
  owner: string;
  name: string;
  contentType: string;
  /** Plaintext size in bytes. */
  size: number;
  /** Ciphertext size in bytes (what the blob file holds). */
  cipherSize: number;
  /** Envelope header bytes (ENVELOPE.md). */
  header: Uint8Array;
  /** Detached CMS SignedData, DER. */
  signature: Uint8Array;
  /** AES key wrapped for the server's storage certificate (RSA-OAEP-SHA256). */
  wrappedKey: Uint8Array;
  /** Serial of the owner's certificate that signed it. */
  signerSerial: string;
  createdAt: Millis;
  /** The server's RFC 3161 token on the signature value (ENVELOPE.md G9), DER; null until stamped. */
  timestampToken: Uint8Array | null;
}

export type NewImage = Omit<ImageRecord, "seq" | "createdAt" | "timestampToken"> & { ownerId: number; createdAt?: Millis; timestampToken?: Uint8Array | null };

export interface ImageQuery {
  /** Images with seq < before, newest first (paging backwards). */
  before?: number;
  /** Images with seq > after, oldest first (catch-up). */
  after?: number;
  limit: number;
}

/** One certificate of a user as `sis devices` shows it. */
export interface DeviceRecord {
  serial: string;
  /** The name given at register or link time (--device), or null for a certificate issued before names. */
  device: string | null;
  createdAt: Millis;
  notAfter: Millis;
  revokedAt: Millis | null;
  /** The last HELLO with this certificate (to the minute), or null if never used. */
  lastSeenAt: Millis | null;
}

export type LinkOutcome = { userId: number; username: string } | { refused: "unknown" | "used" | "expired" };

/** One row of the deletion log (ST12). */
export interface LoggedDeletion extends DeletionEvent {
  dseq: number;
}

export interface NewInvitation {
  /** Public id (16 lower-case hex characters): what `sis admin invitations` shows and --revoke takes. */
  id: string;
  /** SHA-256 of the 32-byte secret (M3); the secret itself is never stored. */
  secretHash: Uint8Array;
  /** The only username it registers, or null for any. */
  username: string | null;
  expiresAt: Millis;
}

export interface InvitationRecord extends NewInvitation {
  createdAt: Millis;
  usedAt: Millis | null;
  revokedAt: Millis | null;
}

/** Why an invitation registers nobody (M5); nothing was created. NO_USERNAME: no name was asked for and the invitation names none (M4). */
export type InvitationRefusal = "INVITE_UNKNOWN" | "INVITE_USED" | "INVITE_EXPIRED" | "INVITE_WRONG_USER" | "NO_USERNAME";

export interface UserSummary {
  username: string;
  createdAt: Millis;
  disabledAt: Millis | null;
  lastSeenAt: Millis | null;
  /** Certificates neither revoked nor expired at `now`. */
  validCerts: number;
  certs: number;
  images: number;
  /** Ciphertext bytes of their images (what the blob files hold). */
  bytes: number;
}

/** The signed CRL every node serves (issue 16): its number, the revocation version it covers, when it was signed. */
export interface StoredCrl {
  number: number;
  revocationVersion: number;
  signedAt: Millis;
  der: Uint8Array;
}

/** One login-throttle key's failures and the time of its last one (P17, M15). */
export interface ThrottleEntry {
  failures: number;
  last: Millis;
}

/** What the server publishes when an image is stored. */
export interface ImageEvent {
  seq: number;
  id: string;
  owner: string;
  name: string;
  size: number;
  contentType: string;
  createdAt: Millis;
}

/** What the server publishes when an image is deleted (PROTOCOL.md M27, M29, M13): the IMAGE_DELETED push's fields. */
export interface DeletionEvent {
  seq: number;
  id: string;
  owner: string;
  name: string;
}
