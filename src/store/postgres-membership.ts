/** PostgresStore's devices, link codes and membership (ports.ts DeviceStore, MembershipStore; PROTOCOL.md M1–M29) as functions of a client; values are always bound. */
import type { SQL } from "bun";
import {
  type DeviceRecord, type InvitationRecord, type InvitationRefusal, type LinkOutcome, type Millis, type NewInvitation,
  StoreConflictError, type UserRecord, type UserSummary,
} from "../server/ports.ts";
import { INVITATION_COLUMNS, toInvitation } from "./rows.ts";
import { bumpRevocationVersion, bytea, createUser, lockLiveUser } from "./postgres-statements.ts";

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** SQLSTATE unique_violation. */
const isConflict = (err: unknown): boolean => (err as { errno?: string })?.errno === "23505";

const invitationOf = (r: Row): InvitationRecord => toInvitation({
  id: r.id as string, secret_hash: r.secret_hash as Uint8Array, username: r.username as string | null,
  created_at: num(r.created_at), expires_at: num(r.expires_at), used_at: numOrNull(r.used_at), revoked_at: numOrNull(r.revoked_at),
});

// --- devices, link codes, usage ------------------------------------------------

export async function setDeviceName(sql: SQL, serial: string, device: string): Promise<void> {
  await sql`UPDATE certificates SET device = ${device} WHERE serial = ${serial}`;
}

/** At most one write a minute per certificate: the condition is in the UPDATE. */
export async function touchCert(sql: SQL, serial: string, at: Millis): Promise<void> {
  await sql`UPDATE certificates SET last_seen_at = ${at}
    WHERE serial = ${serial} AND (last_seen_at IS NULL OR last_seen_at < ${at - 60_000})`;
}

export async function listDevices(sql: SQL, userId: number): Promise<DeviceRecord[]> {
  const rows = await sql`SELECT serial, device, created_at, not_after, revoked_at, last_seen_at FROM certificates
    WHERE user_id = ${userId} ORDER BY created_at, serial`;
  return [...rows].map((r) => ({
    serial: r.serial as string, device: r.device as string | null, createdAt: num(r.created_at), notAfter: num(r.not_after),
    revokedAt: numOrNull(r.revoked_at), lastSeenAt: numOrNull(r.last_seen_at),
  }));
}

/** Expired codes are dropped a day after expiry, while making new ones; the user row is held FOR SHARE against a deletion (ST6). */
export async function createLinkCode(sql: SQL, userId: number, hash: Uint8Array, createdAt: Millis, expiresAt: Millis): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`DELETE FROM link_codes WHERE expires_at < ${createdAt - 86_400_000}`;
    if (!(await lockLiveUser(tx, userId))) throw new Error(`cannot make a link code for unknown or deleted user id ${userId}`);
    await tx`INSERT INTO link_codes (hash, user_id, created_at, expires_at) VALUES (${bytea(hash)}, ${userId}, ${createdAt}, ${expiresAt})`;
  });
}

/**
 * Use-once across nodes: the code's row is locked FOR UPDATE, so a second
 * caller waits for the first one's commit and then reads used_at set.
 */
export async function consumeLinkCode(sql: SQL, hash: Uint8Array, now: Millis): Promise<LinkOutcome> {
  return sql.begin(async (tx): Promise<LinkOutcome> => {
    const rows = await tx`SELECT l.user_id, u.username, l.expires_at, l.used_at FROM link_codes l JOIN users u ON u.id = l.user_id
      WHERE l.hash = ${bytea(hash)} AND u.deleted_at IS NULL AND u.disabled_at IS NULL FOR UPDATE OF l`;
    if (rows.length === 0) return { refused: "unknown" };
    const row = rows[0];
    if (row.used_at !== null) return { refused: "used" };
    if (now >= num(row.expires_at)) return { refused: "expired" };
    const used = await tx`UPDATE link_codes SET used_at = ${now} WHERE hash = ${bytea(hash)} AND used_at IS NULL`;
    if (used.count === 0) return { refused: "used" };
    return { userId: num(row.user_id), username: row.username as string };
  });
}

export async function usageOf(sql: SQL, userId: number): Promise<{ bytes: number; images: number }> {
  const [r] = await sql`SELECT COALESCE(SUM(cipher_size), 0) AS bytes, COUNT(*) AS images FROM images WHERE owner_id = ${userId}`;
  return { bytes: num(r.bytes), images: num(r.images) };
}

// --- membership ------------------------------------------------------------------

export async function createInvitation(sql: SQL, inv: NewInvitation, now: Millis): Promise<InvitationRecord> {
  try {
    const rows = await sql.unsafe(
      `INSERT INTO invitations (id, secret_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${INVITATION_COLUMNS}`,
      [inv.id, bytea(inv.secretHash), inv.username, now, inv.expiresAt],
    );
    return invitationOf(rows[0]);
  } catch (err) {
    if (isConflict(err)) throw new StoreConflictError(`invitation ${inv.id} already exists`);
    throw err;
  }
}

export async function listPendingInvitations(sql: SQL, now: Millis): Promise<InvitationRecord[]> {
  const rows = await sql.unsafe(
    `SELECT ${INVITATION_COLUMNS} FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 ORDER BY created_at, id`,
    [now],
  );
  return [...rows].map(invitationOf);
}

export async function revokeInvitation(sql: SQL, id: string, at: Millis): Promise<boolean> {
  return (await sql`UPDATE invitations SET revoked_at = ${at} WHERE id = ${id} AND used_at IS NULL AND revoked_at IS NULL`).count > 0;
}

/**
 * M5 in one transaction: the invitation's row is locked FOR UPDATE, so of two
 * nodes redeeming one invitation the second waits and then reads it used.
 * A taken name aborts the transaction: nothing changes (ST5).
 */
export async function redeemInvitation(
  sql: SQL, secretHash: Uint8Array, username: string | null, passwordHash: string, now: Millis,
): Promise<{ user: UserRecord } | { refused: InvitationRefusal }> {
  try {
    return await sql.begin(async (tx): Promise<{ user: UserRecord } | { refused: InvitationRefusal }> => {
      const rows = await tx`SELECT id, username, expires_at, used_at, revoked_at FROM invitations
        WHERE secret_hash = ${bytea(secretHash)} FOR UPDATE`;
      const row = rows[0];
      if (!row || row.revoked_at !== null) return { refused: "INVITE_UNKNOWN" };
      if (row.used_at !== null) return { refused: "INVITE_USED" };
      if (num(row.expires_at) <= now) return { refused: "INVITE_EXPIRED" };
      // No name asked for: the one the invitation was made for (M4).
      const name = (username ?? row.username) as string | null;
      if (name === null) return { refused: "NO_USERNAME" };
      if (row.username !== null && row.username !== name) return { refused: "INVITE_WRONG_USER" };
      const user = await createUser(tx, name, passwordHash, now);
      const used = await tx`UPDATE invitations SET used_at = ${now}, used_by = ${user.id}
        WHERE id = ${row.id as string} AND used_at IS NULL AND revoked_at IS NULL`;
      if (used.count !== 1) throw new Error(`invitation ${row.id as string} was used concurrently`);
      return { user };
    });
  } catch (err) {
    if (isConflict(err)) throw new StoreConflictError(`username ${JSON.stringify(username ?? "(the invitation's)")} is taken`);
    throw err;
  }
}

/** M10: the change and the revocation version's bump commit together (ST3), so every node's open sessions are checked. */
export async function setUserDisabled(sql: SQL, username: string, disabled: boolean, at: Millis): Promise<boolean> {
  const value = disabled ? at : null;
  return sql.begin(async (tx) => {
    const r = await tx`UPDATE users SET disabled_at = ${value}
      WHERE username = ${username} AND deleted_at IS NULL AND (disabled_at IS NULL) = ${disabled}`;
    if (r.count === 0) return false;
    await bumpRevocationVersion(tx);
    return true;
  });
}

/** M12: a read first, so the write (and its row lock) happens at most once per `coarseMs`. */
export async function touchUser(sql: SQL, userId: number, at: Millis, coarseMs: number): Promise<void> {
  const rows = await sql`SELECT last_seen_at FROM users WHERE id = ${userId}`;
  if (rows.length === 0) return;
  const seen = numOrNull(rows[0].last_seen_at);
  if (seen !== null && seen >= at - coarseMs) return;
  await sql`UPDATE users SET last_seen_at = ${at} WHERE id = ${userId} AND (last_seen_at IS NULL OR last_seen_at < ${at - coarseMs})`;
}

export async function setPasswordHash(sql: SQL, userId: number, passwordHash: string): Promise<boolean> {
  return (await sql`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${userId} AND deleted_at IS NULL`).count > 0;
}

export async function userSummaries(sql: SQL, now: Millis): Promise<UserSummary[]> {
  const rows = await sql`SELECT u.username, u.created_at, u.disabled_at, u.last_seen_at,
      (SELECT COUNT(*) FROM certificates c WHERE c.user_id = u.id AND c.revoked_at IS NULL AND c.not_after >= ${now}) AS valid_certs,
      (SELECT COUNT(*) FROM certificates c WHERE c.user_id = u.id) AS certs,
      (SELECT COUNT(*) FROM images i WHERE i.owner_id = u.id) AS images,
      (SELECT COALESCE(SUM(i.cipher_size), 0) FROM images i WHERE i.owner_id = u.id) AS bytes
    FROM users u WHERE u.deleted_at IS NULL ORDER BY u.username`;
  return [...rows].map((r) => ({
    username: r.username as string, createdAt: num(r.created_at), disabledAt: numOrNull(r.disabled_at), lastSeenAt: numOrNull(r.last_seen_at),
    validCerts: num(r.valid_certs), certs: num(r.certs), images: num(r.images), bytes: num(r.bytes),
  }));
}

export async function getServerInfo(sql: SQL, key: string): Promise<string | null> {
  const rows = await sql`SELECT value FROM server_info WHERE key = ${key}`;
  return rows.length ? (rows[0].value as string) : null;
}

export async function setServerInfo(sql: SQL, key: string, value: string): Promise<void> {
  await sql`INSERT INTO server_info (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
}
