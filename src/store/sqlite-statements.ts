/** Every SQL statement SqliteStore runs, prepared once per connection; values are always bound, never spliced. */
import type { Database } from "bun:sqlite";
import { CERT_COLUMNS, type CertRow, IMAGE_COLUMNS, type ImageRow, INVITATION_COLUMNS, type InvitationRow, type UserRow } from "./rows.ts";

const CERTS = `SELECT ${CERT_COLUMNS} FROM certificates c JOIN users u ON u.id = c.user_id`;
const IMAGES = `SELECT ${IMAGE_COLUMNS} FROM images i JOIN users u ON u.id = i.owner_id`;
const USERS = "SELECT id, username, password_hash, created_at, disabled_at FROM users";

type Str = string;
type Num = number;

export function prepareStatements(db: Database) {
  return {
    findUser: db.prepare<UserRow, { username: Str }>(`${USERS} WHERE username = $username AND deleted_at IS NULL`),
    findUserById: db.prepare<UserRow, { id: Num }>(`${USERS} WHERE id = $id AND deleted_at IS NULL`),
    createUser: db.prepare<UserRow, { username: Str; hash: Str; now: Num }>(
      "INSERT INTO users (username, password_hash, created_at) VALUES ($username, $hash, $now) " +
        "RETURNING id, username, password_hash, created_at, disabled_at",
    ),
    tombstoneUser: db.prepare<never, { id: Num; now: Num }>("UPDATE users SET deleted_at = $now WHERE id = $id"),
    deleteImagesOf: db.prepare<never, { id: Num }>("DELETE FROM images WHERE owner_id = $id"),

    addCert: db.prepare<never, { serial: Str; userId: Num; der: Uint8Array; nb: Num; na: Num; now: Num }>(
      "INSERT INTO certificates (serial, user_id, der, not_before, not_after, created_at) " +
        "SELECT $serial, id, $der, $nb, $na, $now FROM users WHERE id = $userId AND deleted_at IS NULL",
    ),
    findCert: db.prepare<CertRow, { serial: Str }>(`${CERTS} WHERE c.serial = $serial`),
    listCerts: db.prepare<CertRow, []>(`${CERTS} ORDER BY c.created_at, c.serial`),
    listCertsOf: db.prepare<CertRow, { username: Str }>(
      `${CERTS} WHERE u.username = $username ORDER BY c.created_at, c.serial`,
    ),
    revokeSerial: db.prepare<never, { serial: Str; at: Num; reason: Str | null; invalidity: Num | null }>(
      "UPDATE certificates SET revoked_at = $at, revocation_reason = $reason, invalidity_date = $invalidity " +
        "WHERE serial = $serial AND revoked_at IS NULL",
    ),
    revokeUserCerts: db.prepare<never, { id: Num; at: Num }>(
      "UPDATE certificates SET revoked_at = $at WHERE user_id = $id AND revoked_at IS NULL",
    ),
    revokeUsernameCerts: db.prepare<never, { username: Str; at: Num; reason: Str | null; invalidity: Num | null }>(
      "UPDATE certificates SET revoked_at = $at, revocation_reason = $reason, invalidity_date = $invalidity " +
        "WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE username = $username)",
    ),
    listRevoked: db.prepare<{ serial: Str; revoked_at: Num; revocation_reason: Str | null; invalidity_date: Num | null }, []>(
      "SELECT serial, revoked_at, revocation_reason, invalidity_date FROM certificates " +
        "WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial",
    ),
    revocationVersion: db.prepare<{ value: Num }, []>("SELECT value FROM meta WHERE key = 'revocation_version'"),
    bumpRevocationVersion: db.prepare<never, []>(
      "UPDATE meta SET value = value + 1 WHERE key = 'revocation_version'",
    ),

    imageNameTaken: db.prepare<{ one: Num }, { ownerId: Num; name: Str }>(
      "SELECT 1 AS one FROM images WHERE owner_id = $ownerId AND name = $name",
    ),
    insertImage: db.prepare<
      { seq: Num },
      {
        id: Str; ownerId: Num; name: Str; contentType: Str; size: Num; cipherSize: Num;
        header: Uint8Array; signature: Uint8Array; wrappedKey: Uint8Array; signerSerial: Str; createdAt: Num;
        timestampToken: Uint8Array | null;
      }
    >(
      "INSERT INTO images (id, owner_id, name, content_type, size, cipher_size, header, signature, " +
        "wrapped_key, signer_serial, created_at, timestamp_token) VALUES ($id, $ownerId, $name, $contentType, $size, " +
        "$cipherSize, $header, $signature, $wrappedKey, $signerSerial, $createdAt, $timestampToken) RETURNING seq",
    ),
    findImage: db.prepare<ImageRow, { id: Str }>(`${IMAGES} WHERE i.id = $id`),
    findImageByName: db.prepare<ImageRow, { owner: Str; name: Str }>(
      `${IMAGES} WHERE u.username = $owner AND i.name = $name`,
    ),
    // One statement per direction; an absent bound is passed as an open one.
    listAscending: db.prepare<ImageRow, { after: Num; before: Num; limit: Num }>(
      `${IMAGES} WHERE i.seq > $after AND i.seq < $before ORDER BY i.seq ASC LIMIT $limit`,
    ),
    listDescending: db.prepare<ImageRow, { after: Num; before: Num; limit: Num }>(
      `${IMAGES} WHERE i.seq > $after AND i.seq < $before ORDER BY i.seq DESC LIMIT $limit`,
    ),
    allImageIds: db.prepare<{ id: Str }, []>("SELECT id FROM images"),
    deleteImage: db.prepare<never, { id: Str }>("DELETE FROM images WHERE id = $id"),
    // The deletion log (migration 6), written in the deleting transaction just before the rows go.
    logDeletion: db.prepare<never, { id: Str; now: Num }>(
      "INSERT INTO image_deletions (seq, id, owner, name, deleted_at) " +
        "SELECT i.seq, i.id, u.username, i.name, $now FROM images i JOIN users u ON u.id = i.owner_id WHERE i.id = $id",
    ),
    logDeletionsOf: db.prepare<never, { id: Num; now: Num }>(
      "INSERT INTO image_deletions (seq, id, owner, name, deleted_at) " +
        "SELECT i.seq, i.id, u.username, i.name, $now FROM images i JOIN users u ON u.id = i.owner_id WHERE i.owner_id = $id ORDER BY i.seq",
    ),
    pruneDeletions: db.prepare<never, { before: Num }>("DELETE FROM image_deletions WHERE deleted_at < $before"),
    listDeletions: db.prepare<{ dseq: Num; seq: Num; id: Str; owner: Str; name: Str }, { after: Num; limit: Num }>(
      "SELECT dseq, seq, id, owner, name FROM image_deletions WHERE dseq > $after ORDER BY dseq ASC LIMIT $limit",
    ),
    // AUTOINCREMENT's high-water mark: kept when the rows are pruned.
    highestDeletion: db.prepare<{ seq: Num }, []>("SELECT seq FROM sqlite_sequence WHERE name = 'image_deletions'"),

    // Time-stamps (ENVELOPE.md G9): the upgrade's pass over images stored before the server had a TSA.
    listUnstamped: db.prepare<ImageRow, { after: Num; limit: Num }>(
      `${IMAGES} WHERE i.timestamp_token IS NULL AND i.seq > $after ORDER BY i.seq ASC LIMIT $limit`,
    ),
    setTimestampToken: db.prepare<never, { id: Str; token: Uint8Array }>(
      "UPDATE images SET timestamp_token = $token WHERE id = $id AND timestamp_token IS NULL",
    ),

    // Devices, link codes, usage.
    setDeviceName: db.prepare<never, { serial: Str; device: Str }>("UPDATE certificates SET device = $device WHERE serial = $serial"),
    touchCert: db.prepare<never, { serial: Str; at: Num }>(
      "UPDATE certificates SET last_seen_at = $at WHERE serial = $serial AND (last_seen_at IS NULL OR last_seen_at < $at - 60000)",
    ),
    listDevices: db.prepare<
      { serial: Str; device: Str | null; created_at: Num; not_after: Num; revoked_at: Num | null; last_seen_at: Num | null },
      { userId: Num }
    >("SELECT serial, device, created_at, not_after, revoked_at, last_seen_at FROM certificates WHERE user_id = $userId ORDER BY created_at, serial"),
    createLinkCode: db.prepare<never, { hash: Uint8Array; userId: Num; createdAt: Num; expiresAt: Num }>(
      "INSERT INTO link_codes (hash, user_id, created_at, expires_at) " +
        "SELECT $hash, id, $createdAt, $expiresAt FROM users WHERE id = $userId AND deleted_at IS NULL",
    ),
    findLinkCode: db.prepare<{ user_id: Num; username: Str; expires_at: Num; used_at: Num | null }, { hash: Uint8Array }>(
      "SELECT l.user_id, u.username, l.expires_at, l.used_at FROM link_codes l JOIN users u ON u.id = l.user_id " +
        "WHERE l.hash = $hash AND u.deleted_at IS NULL AND u.disabled_at IS NULL",
    ),
    useLinkCode: db.prepare<never, { hash: Uint8Array; now: Num }>("UPDATE link_codes SET used_at = $now WHERE hash = $hash AND used_at IS NULL"),
    pruneLinkCodes: db.prepare<never, { before: Num }>("DELETE FROM link_codes WHERE expires_at < $before"),
    usageOf: db.prepare<{ bytes: Num; images: Num }, { userId: Num }>(
      "SELECT COALESCE(SUM(cipher_size), 0) AS bytes, COUNT(*) AS images FROM images WHERE owner_id = $userId",
    ),

    // --- membership ---
    createInvitation: db.prepare<InvitationRow, { id: Str; hash: Uint8Array; username: Str | null; now: Num; expires: Num }>(
      "INSERT INTO invitations (id, secret_hash, username, created_at, expires_at) VALUES ($id, $hash, $username, $now, $expires) " +
        `RETURNING ${INVITATION_COLUMNS}`,
    ),
    findInvitationByHash: db.prepare<InvitationRow, { hash: Uint8Array }>(`SELECT ${INVITATION_COLUMNS} FROM invitations WHERE secret_hash = $hash`),
    pendingInvitations: db.prepare<InvitationRow, { now: Num }>(
      `SELECT ${INVITATION_COLUMNS} FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > $now ORDER BY created_at, id`,
    ),
    revokeInvitation: db.prepare<never, { id: Str; at: Num }>(
      "UPDATE invitations SET revoked_at = $at WHERE id = $id AND used_at IS NULL AND revoked_at IS NULL",
    ),
    useInvitation: db.prepare<never, { id: Str; at: Num; userId: Num }>(
      "UPDATE invitations SET used_at = $at, used_by = $userId WHERE id = $id AND used_at IS NULL AND revoked_at IS NULL",
    ),
    setDisabled: db.prepare<never, { username: Str; at: Num | null }>(
      "UPDATE users SET disabled_at = $at WHERE username = $username AND deleted_at IS NULL AND (disabled_at IS NULL) = ($at IS NOT NULL)",
    ),
    lastSeen: db.prepare<{ last_seen_at: Num | null }, { id: Num }>("SELECT last_seen_at FROM users WHERE id = $id"),
    touchUser: db.prepare<never, { id: Num; at: Num; coarse: Num }>(
      "UPDATE users SET last_seen_at = $at WHERE id = $id AND (last_seen_at IS NULL OR last_seen_at < $at - $coarse)",
    ),
    setPasswordHash: db.prepare<never, { id: Num; hash: Str }>("UPDATE users SET password_hash = $hash WHERE id = $id AND deleted_at IS NULL"),
    userSummaries: db.prepare<
      { username: Str; created_at: Num; disabled_at: Num | null; last_seen_at: Num | null; valid_certs: Num; certs: Num; images: Num; bytes: Num },
      { now: Num }
    >(
      "SELECT u.username, u.created_at, u.disabled_at, u.last_seen_at, " +
        "(SELECT COUNT(*) FROM certificates c WHERE c.user_id = u.id AND c.revoked_at IS NULL AND c.not_after >= $now) AS valid_certs, " +
        "(SELECT COUNT(*) FROM certificates c WHERE c.user_id = u.id) AS certs, " +
        "(SELECT COUNT(*) FROM images i WHERE i.owner_id = u.id) AS images, " +
        "(SELECT COALESCE(SUM(i.cipher_size), 0) FROM images i WHERE i.owner_id = u.id) AS bytes " +
        "FROM users u WHERE u.deleted_at IS NULL ORDER BY u.username",
    ),
    imageIdsOf: db.prepare<{ id: Str }, { id: Num }>("SELECT id FROM images WHERE owner_id = $id"),
    getServerInfo: db.prepare<{ value: Str }, { key: Str }>("SELECT value FROM server_info WHERE key = $key"),
    setServerInfo: db.prepare<never, { key: Str; value: Str }>(
      "INSERT INTO server_info (key, value) VALUES ($key, $value) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** How long a deletion log row is kept (ports.ts ST12): the server polls every few seconds. */
export const DELETION_LOG_MS = 24 * 60 * 60 * 1000;

/** Logs the deletion of every image of a user, inside the caller's transaction, before their rows go (ST12). */
export function logDeletionsOf(sql: Statements, userId: number, now: number): void {
  sql.logDeletionsOf.run({ id: userId, now });
  sql.pruneDeletions.run({ before: now - DELETION_LOG_MS });
}
