/** SqliteStore: users, certificates and image metadata in one SQLite file (bun:sqlite, WAL, synchronous=FULL). */
// bun:sqlite is synchronous: each method does its work before it returns, and the
// Promise the ports ask for (ports.ts) is already settled; a failure is a rejection.
import type { Database } from "bun:sqlite";
import { conflictOr } from "./conflict.ts";
import {
  type CertRecord, type DeviceRecord, type ImageQuery, type LoggedDeletion, type ImageRecord, type InvitationRecord, type LinkOutcome, type Millis, type NewCert, type NewImage,
  type NewInvitation, type RevocationDetail, type Store, StoreConflictError, type StoredCrl, type UserRecord, type UserSummary,
} from "../server/ports.ts";
import { openDatabase } from "./open-database.ts";
import { toCert, toImage, toUser } from "./rows.ts";
import { SqliteDevices } from "./sqlite-devices.ts";
import { SqliteMembership } from "./sqlite-membership.ts";
import { SqliteCrl } from "./sqlite-crl.ts";
import { canonicalSerial } from "../encoding/serial.ts";
import { DELETION_LOG_MS, logDeletionsOf, prepareStatements, type Statements } from "./sqlite-statements.ts";

const IMAGE_ID = /^[0-9a-f]{32}$/;

const READABLE_PRAGMAS = ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"] as const;


/** A revocation's reason and invalidity date as bound parameters; "unspecified" is stored as none (RFC 5280 5.3.1). */
function detailParams(detail: RevocationDetail | undefined): { reason: string | null; invalidity: number | null } {
  const reason = detail?.reason === undefined || detail.reason === "unspecified" ? null : detail.reason;
  return { reason, invalidity: detail?.invalidityDate ?? null };
}

export class SqliteStore implements Store {
  readonly #db: Database;
  readonly #sql: Statements;
  readonly #members: SqliteMembership;
  readonly #devices: SqliteDevices;
  readonly #crl: SqliteCrl;

  private constructor(db: Database) {
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#members = new SqliteMembership (db, this.#sql);
    this.#devices = new SqliteDevices(db, this.#sql);
    this.#crl = new SqliteCrl(db);
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
      logDeletionsOf(this.#sql, user.id, now);
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
  async revokeSerial(serial: string, at: Millis, detail?: RevocationDetail): Promise<boolean> {
    const normal = canonicalSerial(serial);
    if (normal === null) return false;
    return this.#db.transaction(() => {
      if (this.#sql.revokeSerial.run({ serial: normal, at, ...detailParams(detail) }).changes === 0) return false;
      this.#sql.bumpRevocationVersion.run();
      return true;
    }).immediate();
  }

  async revokeUser(username: string, at: Millis, detail?: RevocationDetail): Promise<number> {
    return this.#db.transaction(() => {
      const n = this.#sql.revokeUsernameCerts.run({ username, at, ...detailParams(detail) }).changes;
      if (n > 0) this.#sql.bumpRevocationVersion.run();
      return n;
    }).immediate();
  }

  async listRevoked(): Promise<({ serial: string; revokedAt: Millis } & RevocationDetail)[]> {
    return this.#sql.listRevoked.all().map((r) => ({
      serial: r.serial,
      revokedAt: r.revoked_at,
      ...(r.revocation_reason !== null && { reason: r.revocation_reason as NonNullable<RevocationDetail["reason"]> }),
      ...(r.invalidity_date !== null && { invalidityDate: r.invalidity_date }),
    }));
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
          timestampToken: image.timestampToken ?? null,
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

  /** Removes one image row (its seq is never reused), committed (fsynced) on return. The blob is the caller's. */
  /** The row and its deletion log entry (ST12) in one transaction. */
  async deleteImage(id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const now = Date.now();
      this.#sql.logDeletion.run({ id, now });
      this.#sql.pruneDeletions.run({ before: now - DELETION_LOG_MS });
      return this.#sql.deleteImage.run({ id }).changes > 0;
    }).immediate();
  }

  async listDeletions(after: number, limit: number): Promise<LoggedDeletion[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    return this.#sql.listDeletions.all({ after, limit: n });
  }

  async highestDeletion(): Promise<number> {
    return this.#sql.highestDeletion.get()?.seq ?? 0;
  }

  // --- devices, link codes, usage: src/store/sqlite-devices.ts ---------------

  setDeviceName(serial: string, device: string): Promise<void> { return this.#devices.setDeviceName(serial, device); }
  touchCert(serial: string, at: Millis): Promise<void> { return this.#devices.touchCert(serial, at); }
  listDevices(userId: number): Promise<DeviceRecord[]> { return this.#devices.listDevices(userId); }
  createLinkCode(userId: number, hash: Uint8Array, createdAt: Millis, expiresAt: Millis): Promise<void> { return this.#devices.createLinkCode(userId, hash, createdAt, expiresAt); }
  consumeLinkCode(hash: Uint8Array, now: Millis): Promise<LinkOutcome> { return this.#devices.consumeLinkCode(hash, now); }
  usageOf(userId: number): Promise<{ bytes: number; images: number }> { return this.#devices.usageOf(userId); }

  // --- time-stamps (ENVELOPE.md G9) -----------------------------------------

  async listUnstampedImages(after: number, limit: number): Promise<ImageRecord[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    return this.#sql.listUnstamped.all({ after, limit: n }).map(toImage);
  }

  async setTimestampToken(id: string, token: Uint8Array): Promise<boolean> {
    return this.#sql.setTimestampToken.run({ id, token }).changes > 0;
  }

  // --- membership: src/store/sqlite-membership.ts ---------------

  createInvitation(invitation: NewInvitation): Promise<InvitationRecord> { return this.#members.createInvitation(invitation); }
  listPendingInvitations(now: Millis): Promise<InvitationRecord[]> { return this.#members.listPendingInvitations(now); }
  revokeInvitation(id: string, at: Millis): Promise<boolean> { return this.#members.revokeInvitation(id, at); }
  redeemInvitation(secretHash: Uint8Array, username: string | null, passwordHash: string, now: Millis) { return this.#members.redeemInvitation(secretHash, username, passwordHash, now); }
  setUserDisabled(username: string, disabled: boolean, at: Millis): Promise<boolean> { return this.#members.setUserDisabled(username, disabled, at); }
  touchUser(userId: number, at: Millis, coarseMs: number): Promise<void> { return this.#members.touchUser(userId, at, coarseMs); }
  setPasswordHash(userId: number, passwordHash: string): Promise<boolean> { return this.#members.setPasswordHash(userId, passwordHash); }
  userSummaries(now: Millis): Promise<UserSummary[]> { return this.#members.userSummaries(now); }
  deleteAccount(username: string, withImages: boolean, at: Millis): Promise<string[] | null> { return this.#members.deleteAccount(username, withImages, at); }
  // The shared CRL (ST9): src/store/sqlite-crl.ts.
  storedCrl(): Promise<StoredCrl | null> { return this.#crl.stored(); }
  replaceCrl(sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl> { return this.#crl.replace(sign); }
  getServerInfo(key: string): Promise<string | null> { return this.#members.getServerInfo(key); }
  setServerInfo(key: string, value: string): Promise<void> { return this.#members.setServerInfo(key, value); }

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
