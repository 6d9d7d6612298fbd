/**
 * The interfaces the server needs from storage and notification. The server
 * declares them; src/store implements them; only the composition root wires
 * concrete parts. Every store method returns a Promise, so a backend whose
 * client is asynchronous (PostgreSQL, a remote service) implements these and
 * nothing in the protocol code changes; SqliteStore answers at once.
 *
 * The rules a backend must keep (test/store/*-contract.ts checks what a test
 * can observe of them; a new backend runs the same suites, runStoreContract):
 *
 * ST1  `seq` is commit order and is never reused: no image becomes visible
 *      with a seq below one a reader could already see. A backend that draws
 *      seq from a sequence before its commit breaks this (two inserts can
 *      commit out of seq order), and a watcher whose catch-up cursor (LIST
 *      after=seq) already passed the later seq skips the other image for
 *      good: serialise the inserts, or assign seq at commit.
 * ST2  insertImage(), createUser(), addCert() and the revocations are
 *      durable when their Promise resolves: the server acknowledges on
 *      resolve (POSTED, REGISTERED), and a crash afterwards must not lose it.
 * ST3  revocationVersion() changes whenever a revocation commits, in any
 *      process sharing the data (`sis admin revoke` runs beside the
 *      server), and only grows; the version bump commits together with the
 *      revocation, so whoever reads the new version also reads the
 *      revocation. It is read from the shared data on every call, never
 *      cached in the process.
 * ST4  Usernames, image names and ids are compared exactly, byte for byte:
 *      no case folding, no Unicode normalisation, no collation (`alice` and
 *      `ALICE`, `cat.png` and `CAT.png` are different). Serials are
 *      normalised (canonicalSerial) before they are stored or looked up.
 * ST5  A uniqueness conflict (username, also a deleted user's; serial;
 *      owner + image name) rejects with StoreConflictError and changes
 *      nothing; every other failure rejects with another error.
 * ST6  deleteUser() keeps the name reserved (createUser of it conflicts),
 *      revokes the user's certificates (bumping the revocation version)
 *      and removes the user's image rows, in one transaction.
 * ST7  A record resolved by one method is what every later read returns
 *      (exact DER, header, signature and key bytes, as Uint8Array); what one
 *      handle committed, another handle on the same data reads at once.
 * ST8  listImages(): `after` given, oldest first (seq > after); otherwise
 *      newest first; `before` bounds either; a limit of 0 or less gives [].
 * ST9  replaceCrl() runs its callback under one lock shared by every process
 *      on the data (two nodes never both sign), and stores what it returns
 *      only if its number is above the stored one: the CRL number never goes
 *      down, also across restarts; storedCrl() returns the stored bytes
 *      exactly, so every node serves the same CRL. (SQLite, one node: the
 *      lock is the process's, per file; the number check holds across
 *      processes.)
 * ST10 throttleFailure() counts each key once per call, atomically, for
 *      every process sharing the counters (nodes on one database throttle
 *      at one node's count); a key whose last failure is `forgetAfterMs` or
 *      more before `at` starts again from one; throttleEntries() reads what
 *      every process recorded.
 * ST11 tryExclusive(name) runs its task only while this process holds the
 *      lock `name` for every process sharing the data, and resolves to null
 *      at once, without running it, while another one holds it; the lock is
 *      released when the task ends (also when it throws).
 * ST12 Every image row that deleteImage(), deleteAccount(…, true) or
 *      deleteUser() removes is logged in the same transaction (seq, id,
 *      owner, name), numbered by `dseq`: commit order, never reused, also
 *      across processes sharing the data; listDeletions(after) reads the log
 *      oldest first, highestDeletion() the highest dseq handed out. A
 *      rolled-back deletion logs nothing. Rows older than a day may be
 *      pruned: the log feeds IMAGE_DELETED pushes (PROTOCOL.md M27), which
 *      a reader that was away longer may miss without harm.
 *
 * The server keeps its own rule on top: one request per connection at a time
 * (session.ts), so a handler may await the store without another request of
 * the same connection running meanwhile.
 */

import type {
  CertRecord,
  DeviceRecord,
  ImageQuery,
  ImageRecord,
  InvitationRecord,
  InvitationRefusal,
  LinkOutcome,
  LoggedDeletion,
  Millis,
  NewCert,
  NewImage,
  NewInvitation,
  RevocationDetail,
  StoredCrl,
  ThrottleEntry,
  UserRecord,
  UserSummary,
} from "./ports/records.ts";

export type * from "./ports/records.ts";
export type * from "./ports/blobs.ts";
export type * from "./ports/notifier.ts";

export interface UserStore {
  /** A live (not deleted) user by exact name (ST4), or null. */
  findUser(username: string): Promise<UserRecord | null>;
  /** Rejects with StoreConflictError if the username exists or existed (ST5, ST6). */
  createUser(username: string, passwordHash: string): Promise<UserRecord>;
  /** Soft delete (ST6); false for an unknown user. */
  deleteUser(username: string): Promise<boolean>;
}

export interface CertStore {
  /** Rejects with StoreConflictError for a serial already recorded; rejects for an unknown or deleted user. */
  addCert(cert: NewCert): Promise<CertRecord>;
  /** By any spelling of the serial (colons, case, leading zeros); null if unknown or malformed. */
  findCert(serial: string): Promise<CertRecord | null>;
  listCerts(username?: string): Promise<CertRecord[]>;
  /** Marks one certificate revoked, with the reason and invalidity date if given (V13); false if unknown or already revoked. */
  revokeSerial(serial: string, at: Millis, detail?: RevocationDetail): Promise<boolean>;
  /** Revokes every unrevoked certificate of a user (each with `detail`, if given); resolves to how many. */
  revokeUser(username: string, at: Millis, detail?: RevocationDetail): Promise<number>;
  /** Every revoked certificate, for the CRL: reason and invalidityDate only where recorded. */
  listRevoked(): Promise<({ serial: string; revokedAt: Millis } & RevocationDetail)[]>;
  /** Changes whenever a revocation is recorded, by any process (ST3): the CRL cache key and the revocation watch's signal. */
  revocationVersion(): Promise<number>;
}

export interface ImageStore {
  imageNameTaken(ownerId: number, name: string): Promise<boolean>;
  /**
   * Durable when it resolves (ST2), with a seq above every image committed
   * before it (ST1). Rejects with StoreConflictError if (owner, name) exists;
   * rejects for an id that is not 32 lower-case hex characters or an owner
   * name that does not match ownerId.
   */
  insertImage(image: NewImage): Promise<ImageRecord>;
  findImage(id: string): Promise<ImageRecord | null>;
  findImageByName(owner: string, name: string): Promise<ImageRecord | null>;
  listImages(query: ImageQuery): Promise<ImageRecord[]>;
  /** Every stored image id, for start-up recovery of the blob directory. */
  allImageIds(): Promise<Set<string>>;

  // --- time-stamps (ENVELOPE.md G9): the upgrade stamps images stored before the server had a TSA.
  /** Images without a token, oldest first, with seq > after (a page of at most `limit`). */
  listUnstampedImages(after: number, limit: number): Promise<ImageRecord[]>;
  /** Sets the token of an image that has none; false if unknown or already stamped (a token is never replaced). */
  setTimestampToken(id: string, token: Uint8Array): Promise<boolean>;
}

// --- devices, link codes, usage and deletion (PROTOCOL.md M20–M29) ---

export interface DeviceStore {
  /** Names the device a certificate was issued to (an unknown serial changes nothing). */
  setDeviceName(serial: string, device: string): Promise<void>;
  /** Records a use of the certificate; writes at most once a minute per certificate. */
  touchCert(serial: string, at: Millis): Promise<void>;
  listDevices(userId: number): Promise<DeviceRecord[]>;
  /** Stores a link code's hash for a live user; durable on resolve. */
  createLinkCode(userId: number, hash: Uint8Array, createdAt: Millis, expiresAt: Millis): Promise<void>;
  /**
   * Uses a link code once, atomically: the first caller with a live, unexpired,
   * unused code gets its user; every later one gets { refused: "used" }.
   */
  consumeLinkCode(hash: Uint8Array, now: Millis): Promise<LinkOutcome>;
  /** Ciphertext bytes and count of a user's stored images (the quota counts ciphertext: what the disk holds). */
  usageOf(userId: number): Promise<{ bytes: number; images: number }>;
  /** Removes one image row in one transaction (its seq is never reused) and logs it (ST12); the blob is the caller's to remove after. False if unknown. */
  deleteImage(id: string): Promise<boolean>;
  /** ST12: logged deletions with dseq above `after`, oldest first; a limit of 0 or less gives []. */
  listDeletions(after: number, limit: number): Promise<LoggedDeletion[]>;
  /** ST12: the highest dseq ever handed out (0 before the first deletion): where a reader starts. */
  highestDeletion(): Promise<number>;
}

// --- membership: invitations, disabled accounts, last seen, passwords ---

export interface MembershipStore {
  createInvitation(invitation: NewInvitation): Promise<InvitationRecord>;
  /** Neither used, revoked nor expired at `now`, oldest first. */
  listPendingInvitations(now: Millis): Promise<InvitationRecord[]>;
  /** False for an unknown id or one already used or revoked. */
  revokeInvitation(id: string, at: Millis): Promise<boolean>;
  /**
   * M5: in one transaction, checks the invitation whose secret hashes to
   * `secretHash`, creates the user and marks the invitation used; a refusal
   * or a conflict (StoreConflictError, ST5) changes nothing. `username` null:
   * the name the invitation was made for (M4); NO_USERNAME if it names none.
   */
  redeemInvitation(secretHash: Uint8Array, username: string | null, passwordHash: string, now: Millis): Promise<{ user: UserRecord } | { refused: InvitationRefusal }>;
  /** M10: disables or enables a live user and bumps the revocation version in the same transaction (ST3), so open sessions are checked; false for an unknown user or no change. */
  setUserDisabled(username: string, disabled: boolean, at: Millis): Promise<boolean>;
  /** M12: coarse last-seen; writes only when the stored value is older than `at - coarseMs`. */
  touchUser(userId: number, at: Millis, coarseMs: number): Promise<void>;
  /** M14: replaces a live user's password hash; false for an unknown user. */
  setPasswordHash(userId: number, passwordHash: string): Promise<boolean>;
  /** Every live user with their counts (M11). */
  userSummaries(now: Millis): Promise<UserSummary[]>;
  /**
   * M13: like deleteUser (ST6: name reserved, certificates revoked) but the
   * images stay unless `withImages`; resolves to the ids of the image rows
   * removed (their blobs are the caller's to remove), or null for an unknown user.
   */
  deleteAccount(username: string, withImages: boolean, at: Millis): Promise<string[] | null>;
  /** A text setting shared with `sis admin` (the advertised address, M2). */
  getServerInfo(key: string): Promise<string | null>;
  setServerInfo(key: string, value: string): Promise<void>;
}

export interface CrlStore {
  /** The stored CRL, or null before the first is signed. */
  storedCrl(): Promise<StoredCrl | null>;
  /**
   * ST9: under the lock, `sign` gets the stored CRL and returns a new one (its number above the
   * stored one) or null to keep it; resolves to the CRL stored afterwards. Rejects if the number
   * would not grow, and changes nothing then.
   */
  replaceCrl(sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl>;
}

/** The login throttle's counters (ST10): in memory for one node, in the database for several. */
export interface ThrottleCounters {
  /** The entries of the keys that have one (a key without failures is absent). */
  throttleEntries(keys: readonly string[]): Promise<Map<string, ThrottleEntry>>;
  /** One more failure for each key, at `at`; a key last failed `forgetAfterMs` or more before starts again from one. */
  throttleFailure(keys: readonly string[], at: Millis, forgetAfterMs: Millis): Promise<void>;
  /** Forgets a key (a success). */
  throttleClear(key: string): Promise<void>;
}

/** Cluster-wide locks for work one node at a time does (ST11): the periodic S3 orphan sweep. */
export interface ExclusiveLocks {
  tryExclusive<T>(name: string, task: () => Promise<T>): Promise<{ value: T } | null>;
}

export interface Store extends UserStore, CertStore, ImageStore, DeviceStore, MembershipStore, CrlStore {
  /** Releases the connection(s); no method is called afterwards. */
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
}

