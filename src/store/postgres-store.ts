/** PostgresStore: users, certificates and image metadata in PostgreSQL (Bun.sql), for several `sis serve` nodes on one database. */
import type { SQL } from "bun";
import {
  type CertRecord, type DeviceRecord, type LoggedDeletion, type ImageQuery, type ImageRecord, type InvitationRecord, type InvitationRefusal, type LinkOutcome,
  type Millis, type NewCert, type NewImage, type NewInvitation, type RevocationDetail, type Store, StoreConflictError, type StoredCrl, type ThrottleCounters, type ThrottleEntry, type ExclusiveLocks, type UserRecord,
  type UserSummary,
} from "../server/ports.ts";
import { canonicalSerial } from "../encoding/serial.ts";
import { openPostgres, type PostgresStoreOptions } from "./postgres-open.ts";
import { isConflict, withRetry } from "./postgres-retry.ts";
import * as m from "./postgres-membership.ts";
import * as q from "./postgres-statements.ts";
import { replaceCrlTx, storedCrl } from "./postgres-crl.ts";
import { PostgresThrottle } from "./postgres-throttle.ts";
import { tryExclusive } from "./postgres-lock.ts";

// Importable from here as before the split.
export type { PostgresStoreOptions } from "./postgres-open.ts";

const IMAGE_ID = /^[0-9a-f]{32}$/;

export class PostgresStore implements Store, ThrottleCounters, ExclusiveLocks {
  readonly #sql: SQL;
  readonly #retryForMs: number;
  readonly #throttle: PostgresThrottle;

  private constructor(sql: SQL, retryForMs: number) {
    this.#sql = sql;
    this.#retryForMs = retryForMs;
    this.#throttle = new PostgresThrottle(() => this.#sql);
  }

  /**
   * Connects to `url` (postgres://user@host:port/db), then creates or
   * upgrades the schema; refuses a newer one. Durability rests on the
   * server's `synchronous_commit` (on by default): a commit returns once its
   * WAL is flushed (ST2), which open() checks.
   */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = await openPostgres(url, opts);
    return new PostgresStore(sql, opts.retryForMs ?? 10_000);
  }

  /** Runs `fn`, again on a fresh connection after a lost one, until retryForMs has passed (postgres-retry.ts); `first` is false on a repeat. */
  #retry<T>(fn: (first: boolean) => Promise<T>): Promise<T> {
    return withRetry(this.#retryForMs, fn);
  }

  // --- users ---------------------------------------------------------------

  async findUser(username: string): Promise<UserRecord | null> {
    return this.#retry(() => q.findUser(this.#sql, username));
  }

  async createUser(username: string, passwordHash: string): Promise<UserRecord> {
    const now = Date.now();
    return this.#retry(async (first) => {
      try {
        return await q.createUser(this.#sql, username, passwordHash, now);
      } catch (err) {
        if (!isConflict(err)) throw err;
        // A repeat after a lost connection may find the row its first try committed (same salted hash).
        const mine = first ? null : await q.findUser(this.#sql, username);
        if (mine && mine.passwordHash === passwordHash && mine.createdAt === now) return mine;
        throw new StoreConflictError(`username ${JSON.stringify(username)} is taken`);
      }
    });
  }

  /** Soft delete, revocation and image removal in one transaction (ST6). A repeat after a lost connection may report false. */
  async deleteUser(username: string): Promise<boolean> {
    return this.#retry(() => this.#sql.begin((tx) => q.deleteUserTx(tx, username, Date.now())));
  }

  // --- certificates --------------------------------------------------------

  async addCert(cert: NewCert): Promise<CertRecord> {
    const serial = canonicalSerial(cert.serial);
    if (serial === null) throw new TypeError(`invalid certificate serial ${JSON.stringify(cert.serial)}`);
    const now = Date.now();
    return this.#retry(async (first) => {
      let added: boolean;
      try {
        added = await q.addCert(this.#sql, { ...cert, serial }, now);
      } catch (err) {
        if (!isConflict(err)) throw err;
        const mine = first ? null : await q.findCert(this.#sql, serial);
        if (mine && mine.createdAt === now && mine.userId === cert.userId) return mine;
        throw new StoreConflictError(`certificate serial ${serial} already exists`);
      }
      if (!added) throw new Error(`cannot add a certificate for unknown or deleted user id ${cert.userId}`);
      return (await q.findCert(this.#sql, serial))!;
    });
  }

  async findCert(serial: string): Promise<CertRecord | null> {
    const normal = canonicalSerial(serial);
    if (normal === null) return null;
    return this.#retry(() => q.findCert(this.#sql, normal));
  }

  async listCerts(username?: string): Promise<CertRecord[]> {
    return this.#retry(() => q.listCerts(this.#sql, username));
  }

  /** The revocation and its version bump commit together (ST3). A repeat after a lost connection may report false. */
  async revokeSerial(serial: string, at: Millis, detail?: RevocationDetail): Promise<boolean> {
    const normal = canonicalSerial(serial);
    if (normal === null) return false;
    return this.#retry(() => this.#sql.begin((tx) => q.revokeSerialTx(tx, normal, at, detail)));
  }

  async revokeUser(username: string, at: Millis, detail?: RevocationDetail): Promise<number> {
    return this.#retry(() => this.#sql.begin((tx) => q.revokeUserTx(tx, username, at, detail)));
  }

  async listRevoked(): Promise<({ serial: string; revokedAt: Millis } & RevocationDetail)[]> {
    return this.#retry(() => q.listRevoked(this.#sql));
  }

  /** Read from the database on every call: every node sees every node's revocations (ST3). */
  async revocationVersion(): Promise<number> {
    return this.#retry(() => q.counter(this.#sql, "revocation_version"));
  }

  // --- images --------------------------------------------------------------

  async imageNameTaken(ownerId: number, name: string): Promise<boolean> {
    return this.#retry(() => q.imageNameTaken(this.#sql, ownerId, name));
  }

  /**
   * Durable when it resolves: the COMMIT returned, so its WAL is flushed
   * (synchronous_commit=on). seq is commit order (ST1, insertImageTx). When
   * the connection is lost around the COMMIT, the repeat finds out whether
   * the first try committed (the id is unique and server-made) and then
   * returns that row instead of a false conflict.
   */
  async insertImage(image: NewImage): Promise<ImageRecord> {
    if (!IMAGE_ID.test(image.id)) throw new TypeError("image id must be 32 lower-case hex characters");
    const createdAt = image.createdAt ?? Date.now();
    return this.#retry(async (first) => {
      if (!first) {
        const mine = await q.findImage(this.#sql, image.id);
        if (mine) return mine;
      }
      try {
        await this.#sql.begin((tx) => q.insertImageTx(tx, image, createdAt));
      } catch (err) {
        if (isConflict(err)) throw new StoreConflictError(`image ${JSON.stringify(image.name)} of ${image.owner} already exists`);
        throw err;
      }
      const row = await q.findImage(this.#sql, image.id);
      if (!row) throw new Error(`image ${image.id} vanished right after insert`);
      return row;
    });
  }

  async findImage(id: string): Promise<ImageRecord | null> {
    return this.#retry(() => q.findImage(this.#sql, id));
  }

  async findImageByName(owner: string, name: string): Promise<ImageRecord | null> {
    return this.#retry(() => q.findImageByName(this.#sql, owner, name));
  }

  async listImages(query: ImageQuery): Promise<ImageRecord[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) return [];
    return this.#retry(() => q.listImages(this.#sql, query.after, query.before, limit));
  }

  async allImageIds(): Promise<Set<string>> {
    return this.#retry(() => q.allImageIds(this.#sql));
  }

  /**
   * Removes one image row (its seq is never reused) and logs the deletion in
   * the same transaction, whose NOTIFY rings every node's doorbell at commit
   * (postgres-statements.ts logDeletionsTx). The blob is the caller's.
   */
  async deleteImage(id: string): Promise<boolean> {
    return this.#retry(() => this.#sql.begin((tx) => q.deleteImageTx(tx, id, Date.now())));
  }

  /** The deletion log after `after` (a dseq), oldest first (ST12): what every node's doorbell reads. */
  async listDeletions(after: number, limit: number): Promise<LoggedDeletion[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    return this.#retry(() => q.listDeletions(this.#sql, after, n));
  }

  /** The highest dseq ever handed out (committed): where a node's doorbell starts reading deletions. */
  async highestDeletion(): Promise<number> {
    return this.#retry(() => q.counter(this.#sql, "deletion_seq"));
  }

  // --- time-stamps (ENVELOPE.md G9) -----------------------------------------

  async listUnstampedImages(after: number, limit: number): Promise<ImageRecord[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    return this.#retry(() => q.listUnstamped(this.#sql, after, n));
  }

  async setTimestampToken(id: string, token: Uint8Array): Promise<boolean> {
    return this.#retry(() => q.setTimestampToken(this.#sql, id, token));
  }

  // --- devices, link codes, usage: src/store/postgres-membership.ts ----------
  // The use-once writes (consumeLinkCode, redeemInvitation) are not repeated after a
  // lost connection: a repeat could not tell its own first try from another node's.

  async setDeviceName(serial: string, device: string): Promise<void> {
    const normal = canonicalSerial(serial);
    if (normal !== null) await this.#retry(() => m.setDeviceName(this.#sql, normal, device));
  }

  async touchCert(serial: string, at: Millis): Promise<void> {
    const normal = canonicalSerial(serial);
    if (normal !== null) await this.#retry(() => m.touchCert(this.#sql, normal, at));
  }

  listDevices(userId: number): Promise<DeviceRecord[]> { return this.#retry(() => m.listDevices(this.#sql, userId)); }
  createLinkCode(userId: number, hash: Uint8Array, createdAt: Millis, expiresAt: Millis): Promise<void> {
    return this.#retry(() => m.createLinkCode(this.#sql, userId, hash, createdAt, expiresAt));
  }
  consumeLinkCode(hash: Uint8Array, now: Millis): Promise<LinkOutcome> { return m.consumeLinkCode(this.#sql, hash, now); }
  usageOf(userId: number): Promise<{ bytes: number; images: number }> { return this.#retry(() => m.usageOf(this.#sql, userId)); }

  // --- membership: src/store/postgres-membership.ts ---------------------------

  createInvitation(invitation: NewInvitation): Promise<InvitationRecord> { return m.createInvitation(this.#sql, invitation, Date.now()); }
  listPendingInvitations(now: Millis): Promise<InvitationRecord[]> { return this.#retry(() => m.listPendingInvitations(this.#sql, now)); }
  revokeInvitation(id: string, at: Millis): Promise<boolean> { return this.#retry(() => m.revokeInvitation(this.#sql, id, at)); }
  redeemInvitation(secretHash: Uint8Array, username: string | null, passwordHash: string, now: Millis): Promise<{ user: UserRecord } | { refused: InvitationRefusal }> {
    return m.redeemInvitation(this.#sql, secretHash, username, passwordHash, now);
  }
  setUserDisabled(username: string, disabled: boolean, at: Millis): Promise<boolean> {
    return this.#retry(() => m.setUserDisabled(this.#sql, username, disabled, at));
  }
  touchUser(userId: number, at: Millis, coarseMs: number): Promise<void> { return this.#retry(() => m.touchUser(this.#sql, userId, at, coarseMs)); }
  setPasswordHash(userId: number, passwordHash: string): Promise<boolean> { return this.#retry(() => m.setPasswordHash(this.#sql, userId, passwordHash)); }
  userSummaries(now: Millis): Promise<UserSummary[]> { return this.#retry(() => m.userSummaries(this.#sql, now)); }
  /** ST6 / M13 in one transaction; a repeat after a lost connection may report null. */
  deleteAccount(username: string, withImages: boolean, at: Millis): Promise<string[] | null> {
    return this.#retry(() => this.#sql.begin((tx) => q.deleteAccountTx(tx, username, withImages, at)));
  }
  getServerInfo(key: string): Promise<string | null> { return this.#retry(() => m.getServerInfo(this.#sql, key)); }
  setServerInfo(key: string, value: string): Promise<void> { return this.#retry(() => m.setServerInfo(this.#sql, key, value)); }

  // --- the shared CRL (ST9): src/store/postgres-crl.ts ------------------------

  storedCrl(): Promise<StoredCrl | null> { return this.#retry(() => storedCrl(this.#sql)); }
  replaceCrl(sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl> {
    return this.#retry(() => this.#sql.begin((tx) => replaceCrlTx(tx, sign)));
  }

  // --- the login throttle's counters (ST10): src/store/postgres-throttle.ts ----

  throttleEntries(keys: readonly string[]): Promise<Map<string, ThrottleEntry>> { return this.#retry(() => this.#throttle.entries(keys)); }
  /** Not repeated after a lost connection: a repeat could count a failure twice; the caller sees the error. */
  throttleFailure(keys: readonly string[], at: Millis, forgetAfterMs: Millis): Promise<void> { return this.#throttle.failure(keys, at, forgetAfterMs); }
  throttleClear(key: string): Promise<void> { return this.#retry(() => this.#throttle.clear(key)); }

  /** ST11: one node at a time (the periodic S3 orphan sweep); src/store/postgres-lock.ts. Not retried: null means another holds it. */
  tryExclusive<T>(name: string, task: () => Promise<T>): Promise<{ value: T } | null> { return tryExclusive(this.#sql, name, task); }

  /** The highest seq ever handed out (committed): where a node's doorbell starts. */
  async highestSeq(): Promise<number> {
    return this.#retry(() => q.counter(this.#sql, "image_seq"));
  }

  async close(): Promise<void> {
    await this.#sql.close();
  }
}
