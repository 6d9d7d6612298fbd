/** Row shapes as SQLite returns them, and their mapping to the record types in ports.ts. */
import type { CrlReason } from "../pki/revocation.ts";
import type { CertRecord, ImageRecord, InvitationRecord, UserRecord } from "../server/ports.ts";

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  created_at: number;
  /** Membership (M10). */
  disabled_at: number | null;
}

export interface CertRow {
  serial: string;
  user_id: number;
  username: string;
  der: Uint8Array;
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  created_at: number;
  revocation_reason: string | null;
  invalidity_date: number | null;
  /** Membership (M10): the owner's users.disabled_at. */
  user_disabled_at: number | null;
}

export interface ImageRow {
  seq: number;
  id: string;
  owner: string;
  name: string;
  content_type: string;
  size: number;
  cipher_size: number;
  header: Uint8Array;
  signature: Uint8Array;
  wrapped_key: Uint8Array;
  signer_serial: string;
  created_at: number;
  timestamp_token: Uint8Array | null;
}

/** Column lists shared by every query that returns a record, so the mappers always get what they read. */
export const CERT_COLUMNS =
  "c.serial, c.user_id, u.username, c.der, c.not_before, c.not_after, c.revoked_at, c.created_at, " +
  "c.revocation_reason, c.invalidity_date, u.disabled_at AS user_disabled_at";
export const IMAGE_COLUMNS =
  "i.seq, i.id, u.username AS owner, i.name, i.content_type, i.size, i.cipher_size, " +
  "i.header, i.signature, i.wrapped_key, i.signer_serial, i.created_at, i.timestamp_token";

/** bun:sqlite hands BLOBs back as Uint8Array; copy into a plain one so callers own their bytes. */
function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

export function toUser(row: UserRow): UserRecord {
  return { id: row.id, username: row.username, passwordHash: row.password_hash, createdAt: row.created_at, disabledAt: row.disabled_at };
}

export function toCert(row: CertRow): CertRecord {
  return {
    serial: row.serial,
    userId: row.user_id,
    username: row.username,
    der: bytes(row.der),
    notBefore: row.not_before,
    notAfter: row.not_after,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
    ...(row.revocation_reason !== null && { revocationReason: row.revocation_reason as CrlReason }),
    ...(row.invalidity_date !== null && { invalidityDate: row.invalidity_date }),
    userDisabled: row.user_disabled_at !== null,
  };
}

export function toImage(row: ImageRow): ImageRecord {
  return {
    seq: row.seq,
    id: row.id,
    owner: row.owner,
    name: row.name,
    contentType: row.content_type,
    size: row.size,
    cipherSize: row.cipher_size,
    header: bytes(row.header),
    signature: bytes(row.signature),
    wrappedKey: bytes(row.wrapped_key),
    signerSerial: row.signer_serial,
    createdAt: row.created_at,
    timestampToken: row.timestamp_token === null ? null : bytes(row.timestamp_token),
  };
}

// --- membership : invitations ---

export interface InvitationRow {
  id: string;
  secret_hash: Uint8Array;
  username: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

export const INVITATION_COLUMNS = "id, secret_hash, username, created_at, expires_at, used_at, revoked_at";

export function toInvitation(row: InvitationRow): InvitationRecord {
  return {
    id: row.id,
    secretHash: bytes(row.secret_hash),
    username: row.username,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
  };
}
