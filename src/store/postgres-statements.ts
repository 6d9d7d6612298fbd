/** Every SQL statement PostgresStore runs, as functions of a client or a transaction; values are always bound, never spliced. */
import type { SQL } from "bun";
import type { CertRecord, DeletionEvent, ImageRecord, LoggedDeletion, NewImage, RevocationDetail, UserRecord } from "../server/ports.ts";
import { CERT_COLUMNS, IMAGE_COLUMNS, toCert, toImage, toUser } from "./rows.ts";

/**
 * The NOTIFY channel of the cross-node doorbell (postgres-notifier.ts): the payload is the new seq
 * after an insert, DELETION_PREFIX and the new dseq after a deletion. One channel, one LISTEN connection.
 */
export const IMAGE_CHANNEL = "sis_images";
export const DELETION_PREFIX = "deleted:";

/** How long a deletion log row is kept: a node whose reads fail longer only misses IMAGE_DELETED pushes (harmless, M27). */
export const DELETION_LOG_MS = 24 * 60 * 60 * 1000;

type Row = Record<string, unknown>;

/** PostgreSQL gives BIGINT as a string and BYTEA as a Buffer: make the numbers numbers (rows.ts copies the bytes). */
function numbers<T>(row: Row, keys: readonly string[]): T {
  const out: Row = { ...row };
  for (const k of keys) if (out[k] !== null && out[k] !== undefined) out[k] = Number(out[k]);
  return out as T;
}

const USER_NUMS = ["id", "created_at", "disabled_at"] as const;
const CERT_NUMS = ["user_id", "not_before", "not_after", "revoked_at", "created_at", "invalidity_date", "user_disabled_at"] as const;
const IMAGE_NUMS = ["seq", "size", "cipher_size", "created_at"] as const;

export const userOf = (row: Row): UserRecord => toUser(numbers(row, USER_NUMS));
export const certOf = (row: Row): CertRecord => toCert(numbers(row, CERT_NUMS));
export const imageOf = (row: Row): ImageRecord => toImage(numbers(row, IMAGE_NUMS));

/** Bun.sql sends a Uint8Array as BYTEA; a Buffer view keeps the exact bytes. */
export const bytea = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

// --- users -------------------------------------------------------------------

export async function findUser(sql: SQL, username: string): Promise<UserRecord | null> {
  const rows = await sql`SELECT id, username, password_hash, created_at, disabled_at FROM users
    WHERE username = ${username} AND deleted_at IS NULL`;
  return rows.length ? userOf(rows[0]) : null;
}

/**
 * A live user by id, locked FOR SHARE until the caller's transaction ends: a
 * deleteUser (FOR UPDATE) waits for it, or it waits for the deletion and
 * then finds no live user. So no image or certificate row is added for a
 * user whose deletion committed first (ST6).
 */
export async function lockLiveUser(tx: SQL, id: number): Promise<UserRecord | null> {
  const rows = await tx`SELECT id, username, password_hash, created_at, disabled_at FROM users
    WHERE id = ${id} AND deleted_at IS NULL FOR SHARE`;
  return rows.length ? userOf(rows[0]) : null;
}

export async function createUser(sql: SQL, username: string, hash: string, now: number): Promise<UserRecord> {
  const rows = await sql`INSERT INTO users (username, password_hash, created_at) VALUES (${username}, ${hash}, ${now})
    RETURNING id, username, password_hash, created_at, disabled_at`;
  return userOf(rows[0]);
}

/** Tombstones the user, revokes their certificates (bumping the version if any), removes their image rows. */
export async function deleteUserTx(tx: SQL, username: string, now: number): Promise<boolean> {
  return (await deleteAccountTx(tx, username, true, now)) !== null;
}

/** ST6 / M13: deleteUserTx, the image rows removed only `withImages`; resolves to the removed ids, or null for no live user. */
export async function deleteAccountTx(tx: SQL, username: string, withImages: boolean, now: number): Promise<string[] | null> {
  const rows = await tx`SELECT id FROM users WHERE username = ${username} AND deleted_at IS NULL FOR UPDATE`;
  if (rows.length === 0) return null;
  const id = Number(rows[0].id);
  await tx`UPDATE users SET deleted_at = ${now} WHERE id = ${id}`;
  const revoked = await tx`UPDATE certificates SET revoked_at = ${now} WHERE user_id = ${id} AND revoked_at IS NULL`;
  if (revoked.count > 0) await bumpRevocationVersion(tx);
  if (!withImages) return [];
  const gone = await tx`DELETE FROM images WHERE owner_id = ${id} RETURNING seq, id, name`;
  const removed = [...gone].map((r) => ({ seq: Number(r.seq), id: r.id as string, owner: username, name: r.name as string }));
  await logDeletionsTx(tx, removed, now);
  return removed.map((r) => r.id);
}

// --- certificates ------------------------------------------------------------

const CERTS = `SELECT ${CERT_COLUMNS} FROM certificates c JOIN users u ON u.id = c.user_id`;

/** Resolves to whether a row was added (false: unknown or deleted user, also one whose deletion commits meanwhile). */
export async function addCert(
  sql: SQL, c: { serial: string; userId: number; der: Uint8Array; notBefore: number; notAfter: number }, now: number,
): Promise<boolean> {
  return sql.begin(async (tx) => {
    if (!(await lockLiveUser(tx, c.userId))) return false;
    await tx`INSERT INTO certificates (serial, user_id, der, not_before, not_after, created_at)
      VALUES (${c.serial}, ${c.userId}, ${bytea(c.der)}, ${c.notBefore}, ${c.notAfter}, ${now})`;
    return true;
  });
}

export async function findCert(sql: SQL, serial: string): Promise<CertRecord | null> {
  const rows = await sql.unsafe(`${CERTS} WHERE c.serial = $1`, [serial]);
  return rows.length ? certOf(rows[0]) : null;
}

export async function listCerts(sql: SQL, username?: string): Promise<CertRecord[]> {
  const rows = username === undefined
    ? await sql.unsafe(`${CERTS} ORDER BY c.created_at, c.serial`)
    : await sql.unsafe(`${CERTS} WHERE u.username = $1 ORDER BY c.created_at, c.serial`, [username]);
  return [...rows].map(certOf);
}

export async function bumpRevocationVersion(tx: SQL): Promise<void> {
  await tx`UPDATE counters SET value = value + 1 WHERE name = 'revocation_version'`;
}

/** A revocation's reason and invalidity date as bound values; "unspecified" is stored as none (RFC 5280 5.3.1). */
function detailOf(detail: RevocationDetail | undefined): { reason: string | null; invalidity: number | null } {
  const reason = detail?.reason === undefined || detail.reason === "unspecified" ? null : detail.reason;
  return { reason, invalidity: detail?.invalidityDate ?? null };
}

export async function revokeSerialTx(tx: SQL, serial: string, at: number, detail?: RevocationDetail): Promise<boolean> {
  const { reason, invalidity } = detailOf(detail);
  const r = await tx`UPDATE certificates SET revoked_at = ${at}, revocation_reason = ${reason}, invalidity_date = ${invalidity}
    WHERE serial = ${serial} AND revoked_at IS NULL`;
  if (r.count === 0) return false;
  await bumpRevocationVersion(tx);
  return true;
}

export async function revokeUserTx(tx: SQL, username: string, at: number, detail?: RevocationDetail): Promise<number> {
  const { reason, invalidity } = detailOf(detail);
  const r = await tx`UPDATE certificates SET revoked_at = ${at}, revocation_reason = ${reason}, invalidity_date = ${invalidity}
    WHERE revoked_at IS NULL
    AND user_id IN (SELECT id FROM users WHERE username = ${username})`;
  if (r.count > 0) await bumpRevocationVersion(tx);
  return r.count;
}

export async function listRevoked(sql: SQL): Promise<({ serial: string; revokedAt: number } & RevocationDetail)[]> {
  const rows = await sql`SELECT serial, revoked_at, revocation_reason, invalidity_date FROM certificates
    WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial`;
  return [...rows].map((r) => ({
    serial: r.serial as string,
    revokedAt: Number(r.revoked_at),
    ...(r.revocation_reason !== null && { reason: r.revocation_reason as NonNullable<RevocationDetail["reason"]> }),
    ...(r.invalidity_date !== null && { invalidityDate: Number(r.invalidity_date) }),
  }));
}

export async function counter(sql: SQL, name: "revocation_version" | "image_seq" | "deletion_seq"): Promise<number> {
  const rows = await sql`SELECT value FROM counters WHERE name = ${name}`;
  return rows.length ? Number(rows[0].value) : 0;
}

// --- images ------------------------------------------------------------------

const IMAGES = `SELECT ${IMAGE_COLUMNS} FROM images i JOIN users u ON u.id = i.owner_id`;

export async function imageNameTaken(sql: SQL, ownerId: number, name: string): Promise<boolean> {
  const rows = await sql`SELECT 1 AS one FROM images WHERE owner_id = ${ownerId} AND name = ${name}`;
  return rows.length > 0;
}

/**
 * The insert, inside the caller's transaction (ST1): the counter row's
 * UPDATE takes seq and holds that row's lock until this transaction ends, so
 * a second insert waits here until the first has committed (or rolled back,
 * which also rolls the counter back). Commit order is therefore seq order,
 * and a reader that sees seq N also sees every seq below N. The NOTIFY is
 * part of the transaction: delivered at commit, dropped on rollback.
 * Resolves to the new seq.
 */
export async function insertImageTx(tx: SQL, image: NewImage, createdAt: number): Promise<number> {
  const owner = await lockLiveUser(tx, image.ownerId);
  if (!owner) throw new Error(`cannot store an image for unknown or deleted user id ${image.ownerId}`);
  if (owner.username !== image.owner) {
    throw new Error(`image owner ${JSON.stringify(image.owner)} does not match user id ${image.ownerId}`);
  }
  const [{ value }] = await tx`UPDATE counters SET value = value + 1 WHERE name = 'image_seq' RETURNING value`;
  const seq = Number(value);
  await tx`INSERT INTO images (seq, id, owner_id, name, content_type, size, cipher_size, header, signature,
      wrapped_key, signer_serial, created_at, timestamp_token)
    VALUES (${seq}, ${image.id}, ${image.ownerId}, ${image.name}, ${image.contentType}, ${image.size},
      ${image.cipherSize}, ${bytea(image.header)}, ${bytea(image.signature)}, ${bytea(image.wrappedKey)},
      ${image.signerSerial}, ${createdAt}, ${image.timestampToken ? bytea(image.timestampToken) : null})`;
  await tx`SELECT pg_notify(${IMAGE_CHANNEL}, ${String(seq)})`;
  return seq;
}

export async function findImage(sql: SQL, id: string): Promise<ImageRecord | null> {
  const rows = await sql.unsafe(`${IMAGES} WHERE i.id = $1`, [id]);
  return rows.length ? imageOf(rows[0]) : null;
}

export async function findImageByName(sql: SQL, owner: string, name: string): Promise<ImageRecord | null> {
  const rows = await sql.unsafe(`${IMAGES} WHERE u.username = $1 AND i.name = $2`, [owner, name]);
  return rows.length ? imageOf(rows[0]) : null;
}

/** One statement per direction; an absent bound is passed as an open one. */
export async function listImages(sql: SQL, after: number | undefined, before: number | undefined, limit: number): Promise<ImageRecord[]> {
  const order = after !== undefined ? "ASC" : "DESC";
  const rows = await sql.unsafe(
    `${IMAGES} WHERE i.seq > $1 AND i.seq < $2 ORDER BY i.seq ${order} LIMIT $3`,
    [after ?? -1, before ?? Number.MAX_SAFE_INTEGER, limit],
  );
  return [...rows].map(imageOf);
}

export async function allImageIds(sql: SQL): Promise<Set<string>> {
  const rows = await sql`SELECT id FROM images`;
  return new Set([...rows].map((r) => r.id as string));
}

/** Removes one image row and logs the deletion, inside the caller's transaction; false when there was none. */
export async function deleteImageTx(tx: SQL, id: string, now: number): Promise<boolean> {
  const gone = await tx`DELETE FROM images i USING users u WHERE i.id = ${id} AND u.id = i.owner_id
    RETURNING i.seq, i.id, i.name, u.username`;
  const removed = [...gone].map((r) => ({ seq: Number(r.seq), id: r.id as string, owner: r.username as string, name: r.name as string }));
  await logDeletionsTx(tx, removed, now);
  return removed.length > 0;
}

/**
 * The deletion log (migration step 5), written inside the deleting transaction
 * as insertImageTx writes seq: the `deletion_seq` counter row's UPDATE holds
 * its lock until commit, so commit order is dseq order and a reader after its
 * last dseq never skips a row. The NOTIFY is part of the transaction too:
 * delivered at commit, dropped on rollback. Rows older than DELETION_LOG_MS
 * go in the same transaction, so the log stays small.
 */
export async function logDeletionsTx(tx: SQL, removed: readonly DeletionEvent[], now: number): Promise<void> {
  if (removed.length === 0) return;
  const [{ value }] = await tx`UPDATE counters SET value = value + ${removed.length} WHERE name = 'deletion_seq' RETURNING value`;
  const last = Number(value);
  for (const [i, r] of removed.entries()) {
    await tx`INSERT INTO image_deletions (dseq, seq, id, owner, name, deleted_at)
      VALUES (${last - removed.length + 1 + i}, ${r.seq}, ${r.id}, ${r.owner}, ${r.name}, ${now})`;
  }
  await tx`DELETE FROM image_deletions WHERE deleted_at < ${now - DELETION_LOG_MS}`;
  await tx`SELECT pg_notify(${IMAGE_CHANNEL}, ${DELETION_PREFIX + String(last)})`;
}

/** Logged deletions after `after` (a dseq), oldest first. */
export async function listDeletions(sql: SQL, after: number, limit: number): Promise<LoggedDeletion[]> {
  const rows = await sql`SELECT dseq, seq, id, owner, name FROM image_deletions WHERE dseq > ${after} ORDER BY dseq ASC LIMIT ${limit}`;
  return [...rows].map((r) => ({ dseq: Number(r.dseq), seq: Number(r.seq), id: r.id as string, owner: r.owner as string, name: r.name as string }));
}

// --- time-stamps (ENVELOPE.md G9) ----------------------------------------------

export async function listUnstamped(sql: SQL, after: number, limit: number): Promise<ImageRecord[]> {
  const rows = await sql.unsafe(`${IMAGES} WHERE i.timestamp_token IS NULL AND i.seq > $1 ORDER BY i.seq ASC LIMIT $2`, [after, limit]);
  return [...rows].map(imageOf);
}

/** A token is never replaced: only an image without one is stamped. */
export async function setTimestampToken(sql: SQL, id: string, token: Uint8Array): Promise<boolean> {
  return (await sql`UPDATE images SET timestamp_token = ${bytea(token)} WHERE id = ${id} AND timestamp_token IS NULL`).count > 0;
}
