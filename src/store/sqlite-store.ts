/** SqliteStore: users, certificates and image metadata in one SQLite file (bun:sqlite, WAL, synchronous=FULL). */
// bun:sqlite is synchronous: each method does its work before it returns, and the
// Promise the ports ask for (ports.ts) is already settled; a failure is a rejection.
import { type Database, SQLiteError } from "bun:sqlite";
import {
  type CertRecord, type ImageQuery, type ImageRecord, type InvitationRecord, type InvitationRefusal, type Millis, type NewCert, type NewImage,
  type NewInvitation, type Store, StoreConflictError, type UserRecord, type UserSummary,
} from "../server/ports.ts";
import { openDatabase } from "./open-database.ts";
import { toCert, toImage, toInvitation, toUser } from "./rows.ts";
import { canonicalSerial } from "../encoding/serial.ts";
import { prepareStatements, type Statements } from "./sqlite-statements.ts";

const IMAGE_ID = /^[0-9a-f]{32}$/;

const READABLE_PRAGMAS = ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"] as const;

/** A UNIQUE or PRIMARY KEY violation becomes StoreConflictError; anything else passes through. */
function conflictOr(err: unknown, message: string): unknown {
  const code = err instanceof SQLiteError ? err.code : undefined;
  const conflict = code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
  return conflict ? new StoreConflictError(message) : err;
}

export class SqliteStore implements Store {
  readonly #db: Database;
  readonly #sql: Statements;

  private constructor(db: Database) {
    this.#db = db;
    this.#sql = prepareStatements(db);
  }

  /** Opens (creating if absent, upgrading if older) the database at `path`. Refuses a newer schema. */
  static open(path: string): SqliteStore {
    return new SqliteStore(openDatabase(path));
  }

  // --- users ---------------------------------------------------------------

  async findUser(username: string): Promise<UserRecord | null> {
    const row = this.#sql.findUser.get({ username });
    return row ? toUser(row) : null;
  }

  async createUser(username: string, passwordHash: string): Promise<UserRecord> {
    try {
      const row = this.#sql.createUser.get({ username, hash: passwordHash, now: Date.now() });
      return toUser(row!);
    } catch (err) {
      // Also taken: names of deleted users (tombstones), so nobody inherits their identity.
      throw conflictOr(err, `username ${JSON.stringify(username)} is taken`);
    }
  }

  /**
   * Soft-deletes a user: the name stays reserved, every certificate of theirs
   * is revoked (so it stops authenticating and appears in the CRL), and their
   * image rows are deleted. Their blob files become orphans that
   * FileBlobStore.sweep() removes at the next start-up.
   */
  async deleteUser(username: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const user = this.#sql.findUser.get({ username });
      if (!user) return false;
      const now = Date.now();
      this.#sql.tombstoneUser.run({ id: user.id, now });
      if (this.#sql.revokeUserCerts.run({ id: user.id, at: now }).changes > 0) {
        this.#sql.bumpRevocationVersion.run();
      }
      this.#sql.deleteImagesOf.run({ id: user.id });
      return true;
    }).immediate();
  }

  // --- certificates --------------------------------------------------------

  async addCert(cert: NewCert): Promise<CertRecord> {
    const serial = canonicalSerial(cert.serial);
    if (serial === null) throw new TypeError(`invalid certificate serial ${JSON.stringify(cert.serial)}`);
    let changes: number;
    try {
      changes = this.#sql.addCert.run({
        serial, userId: cert.userId, der: cert.der, nb: cert.notBefore, na: cert.notAfter, now: Date.now(),
      }).changes;
    } catch (err) {
      throw conflictOr(err, `certificate serial ${serial} already exists`);
    }
    if (changes === 0) throw new Error(`cannot add a certificate for unknown or deleted user id ${cert.userId}`);
    return (await this.findCert(serial))!;
  }

  async findCert(serial: string): Promise<CertRecord | null> {
    const normal = canonicalSerial(serial);
    if (normal === null) return null;
    const row = this.#sql.findCert.get({ serial: normal });
    return row ? toCert(row) : null;
  }

  async listCerts(username?: string): Promise<CertRecord[]> {
    const rows = username === undefined ? this.#sql.listCerts.all() : this.#sql.listCertsOf.all({ username });
    return rows.map(toCert);
  }

  // A revocation and its version bump commit together, so any process that
  // sees the new version also sees the revocation.
  async revokeSerial(serial: string, at: Millis): Promise<boolean> {
    const normal = canonicalSerial(serial);
    if (normal === null) return false;
    return this.#db.transaction(() => {
      if (this.#sql.revokeSerial.run({ serial: normal, at }).changes === 0) return false;
      this.#sql.bumpRevocationVersion.run();
      return true;
    }).immediate();
  }

  async revokeUser(username: string, at: Millis): Promise<number> {
    return this.#db.transaction(() => {
      const n = this.#sql.revokeUsernameCerts.run({ username, at }).changes;
      if (n > 0) this.#sql.bumpRevocationVersion.run();
      return n;
    }).immediate();
  }

  async listRevoked(): Promise<{ serial: string; revokedAt: Millis }[]> {
    return this.#sql.listRevoked.all().map((r) => ({ serial: r.serial, revokedAt: r.revoked_at }));
  }

  /** Read from the database on every call, so revocations by other processes are seen at once. */
  async revocationVersion(): Promise<number> {
    return this.#sql.revocationVersion.get()?.value ?? 0;
  }

  // --- images --------------------------------------------------------------

  async imageNameTaken(ownerId: number, name: string): Promise<boolean> {
    return this.#sql.imageNameTaken.get({ ownerId, name }) !== null;
  }

  /** Durable on return: the commit fsyncs the WAL (synchronous=FULL). */
  async insertImage(image: NewImage): Promise<ImageRecord> {
    // The id names a blob file: refuse anything but a server-made id, here too.
    if (!IMAGE_ID.test(image.id)) throw new TypeError("image id must be 32 lower-case hex characters");
    const seq = this.#db.transaction(() => {
      const owner = this.#sql.findUserById.get({ id: image.ownerId });
      if (!owner) throw new Error(`cannot store an image for unknown or deleted user id ${image.ownerId}`);
      if (owner.username !== image.owner) {
        throw new Error(`image owner ${JSON.stringify(image.owner)} does not match user id ${image.ownerId}`);
      }
      try {
        return this.#sql.insertImage.get({
          id: image.id, ownerId: image.ownerId, name: image.name, contentType: image.contentType,
          size: image.size, cipherSize: image.cipherSize, header: image.header, signature: image.signature,
          wrappedKey: image.wrappedKey, signerSerial: image.signerSerial, createdAt: image.createdAt ?? Date.now(),
        })!.seq;
      } catch (err) {
        throw conflictOr(err, `image ${JSON.stringify(image.name)} of ${image.owner} already exists`);
      }
    }).immediate();
    const row = this.#sql.findImage.get({ id: image.id });
    if (!row) throw new Error(`image seq ${seq} vanished right after insert`);
    return toImage(row);
  }

  async findImage(id: string): Promise<ImageRecord | null> {
    const row = this.#sql.findImage.get({ id });
    return row ? toImage(row) : null;
  }

  async findImageByName(owner: string, name: string): Promise<ImageRecord | null> {
    const row = this.#sql.findImageByName.get({ owner, name });
    return row ? toImage(row) : null;
  }

  /** `after` given: oldest first (catch-up); otherwise newest first. Both bounds may be combined. */
  async listImages(query: ImageQuery): Promise<ImageRecord[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) return [];
    const params = { after: query.after ?? -1, before: query.before ?? Number.MAX_SAFE_INTEGER, limit };
    const stmt = query.after !== undefined ? this.#sql.listAscending : this.#sql.listDescending;
    return stmt.all(params).map(toImage);
  }

  async allImageIds(): Promise<Set<string>> {
    return new Set(this.#sql.allImageIds.all().map((r) => r.id));
  }

  /** Beyond ports.ts: removes one image row (its seq is never reused). The blob is the caller's. */
  async deleteImage(id: string): Promise<boolean> {
    return this.#sql.deleteImage.run({ id }).changes > 0;
  }

  // --- membership (h14, issue 13) -------------------------------------------

  async createInvitation(invitation: NewInvitation): Promise<InvitationRecord> {
    try {
      const row = this.#sql.createInvitation.get({
        id: invitation.id, hash: invitation.secretHash, username: invitation.username, now: Date.now(), expires: invitation.expiresAt,
      });
      return toInvitation(row!);
    } catch (err) {
      throw conflictOr(err, `invitation ${invitation.id} already exists`);
    }
  }

  async listPendingInvitations(now: Millis): Promise<InvitationRecord[]> {
    return this.#sql.pendingInvitations.all({ now }).map(toInvitation);
  }

  async revokeInvitation(id: string, at: Millis): Promise<boolean> {
    return this.#sql.revokeInvitation.run({ id, at }).changes > 0;
  }

  /** The check, the new user and the mark "used" commit together or not at all (M5). */
  async redeemInvitation(secretHash: Uint8Array, username: string, passwordHash: string, now: Millis): Promise<{ user: UserRecord } | { refused: InvitationRefusal }> {
    return this.#db.transaction((): { user: UserRecord } | { refused: InvitationRefusal } => {
      const row = this.#sql.findInvitationByHash.get({ hash: secretHash });
      if (!row || row.revoked_at !== null) return { refused: "INVITE_UNKNOWN" };
      if (row.used_at !== null) return { refused: "INVITE_USED" };
      if (row.expires_at <= now) return { refused: "INVITE_EXPIRED" };
      if (row.username !== null && row.username !== username) return { refused: "INVITE_WRONG_USER" };
      let user: UserRecord;
      try {
        user = toUser(this.#sql.createUser.get({ username, hash: passwordHash, now })!);
      } catch (err) {
        throw conflictOr(err, `username ${JSON.stringify(username)} is taken`);
      }
      if (this.#sql.useInvitation.run({ id: row.id, at: now, userId: user.id }).changes !== 1) throw new Error(`invitation ${row.id} was used concurrently`);
      return { user };
    }).immediate();
  }

  async setUserDisabled(username: string, disabled: boolean, at: Millis): Promise<boolean> {
    return this.#db.transaction(() => {
      if (this.#sql.setDisabled.run({ username, at: disabled ? at : null }).changes === 0) return false;
      // Open sessions are checked when the version moves (ST3, M10).
      this.#sql.bumpRevocationVersion.run();
      return true;
    }).immediate();
  }

  async touchUser(userId: number, at: Millis, coarseMs: number): Promise<void> {
    this.#sql.touchUser.run({ id: userId, at, coarse: coarseMs });
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    return this.#sql.setPasswordHash.run({ id: userId, hash: passwordHash }).changes > 0;
  }

  async userSummaries(now: Millis): Promise<UserSummary[]> {
    return this.#sql.userSummaries.all({ now }).map((r) => ({
      username: r.username, createdAt: r.created_at, disabledAt: r.disabled_at, lastSeenAt: r.last_seen_at,
      validCerts: r.valid_certs, certs: r.certs, images: r.images, bytes: r.bytes,
    }));
  }

  async deleteAccount(username: string, withImages: boolean, at: Millis): Promise<string[] | null> {
    return this.#db.transaction(() => {
      const user = this.#sql.findUser.get({ username });
      if (!user) return null;
      this.#sql.tombstoneUser.run({ id: user.id, now: at });
      if (this.#sql.revokeUserCerts.run({ id: user.id, at }).changes > 0) this.#sql.bumpRevocationVersion.run();
      if (!withImages) return [];
      const ids = this.#sql.imageIdsOf.all({ id: user.id }).map((r) => r.id);
      this.#sql.deleteImagesOf.run({ id: user.id });
      return ids;
    }).immediate();
  }

  async getServerInfo(key: string): Promise<string | null> {
    return this.#sql.getServerInfo.get({ key })?.value ?? null;
  }

  async setServerInfo(key: string, value: string): Promise<void> {
    this.#sql.setServerInfo.run({ key, value });
  }

  // --- maintenance ---------------------------------------------------------

  /** `PRAGMA integrity_check`: "ok", or the problems found, one per line. */
  integrityCheck(): string {
    const rows = this.#db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    return rows.map((r) => r.integrity_check).join("\n");
  }

  /** Runs a read-only PRAGMA and returns its first value (for tests and diagnostics). */
  pragma(name: (typeof READABLE_PRAGMAS)[number]): unknown {
    // The name is spliced into SQL: only the fixed list is accepted, whatever a JS caller passes.
    if (!READABLE_PRAGMAS.includes(name)) throw new TypeError(`unsupported pragma ${JSON.stringify(name)}`);
    const row = this.#db.query<Record<string, unknown>, []>(`PRAGMA ${name}`).get();
    return row ? Object.values(row)[0] : undefined;
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  /** For `using` in tests and tools: closes at once. */
  [Symbol.dispose](): void {
    this.#db.close();
  }
}
