/** Versioned SQLite schema: an ordered list of steps, recorded in PRAGMA user_version. */
import type { Database } from "bun:sqlite";

/**
 * Step i upgrades the schema from version i to version i + 1. Steps are only
 * ever appended: an applied step is never edited, or an existing database
 * would silently differ from a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: users, certificates, images, meta.
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    -- Soft delete: the row stays as a tombstone so the name cannot be
    -- re-registered by someone else and the user's certificates stay listed
    -- (revoked) in the CRL.
    deleted_at    INTEGER
  ) STRICT;

  CREATE TABLE certificates (
    serial     TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    der        BLOB    NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX certificates_user ON certificates(user_id);
  CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;

  -- AUTOINCREMENT: seq is never reused, even after the newest row is deleted,
  -- so a client's catch-up cursor can never skip or repeat an image.
  CREATE TABLE images (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    owner_id      INTEGER NOT NULL REFERENCES users(id),
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    cipher_size   INTEGER NOT NULL,
    header        BLOB    NOT NULL,
    signature     BLOB    NOT NULL,
    wrapped_key   BLOB    NOT NULL,
    signer_serial TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (owner_id, name)
  ) STRICT;

  CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  INSERT INTO meta (key, value) VALUES ('revocation_version', 0);
  `,
  // 2 (time-stamps, revocation by date; ENVELOPE.md G8, V13): the server's RFC 3161 token of each
  // image signature (NULL until stamped), and a revocation's CRL reason and invalidity date.
  `
  ALTER TABLE images ADD COLUMN timestamp_token BLOB;
  ALTER TABLE certificates ADD COLUMN revocation_reason TEXT;
  ALTER TABLE certificates ADD COLUMN invalidity_date INTEGER;
  `,
  // 3 (devices, link codes): a device name and the last use of each certificate; one-time link codes, stored hashed (PROTOCOL.md M20–M24).
  `
  ALTER TABLE certificates ADD COLUMN device TEXT;
  ALTER TABLE certificates ADD COLUMN last_seen_at INTEGER;
  CREATE TABLE link_codes (
    hash       BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
  ) STRICT;
  CREATE INDEX images_owner ON images(owner_id);
  `,
  // 4 (membership, issue 13): disabled accounts, coarse last-seen, invitations, the server's advertised address.
  `
  ALTER TABLE users ADD COLUMN disabled_at INTEGER;
  ALTER TABLE users ADD COLUMN last_seen_at INTEGER;

  -- One-time invitations (PROTOCOL.md M1-M8): only the SHA-256 of the secret is kept.
  CREATE TABLE invitations (
    id          TEXT    PRIMARY KEY,
    secret_hash BLOB    NOT NULL UNIQUE,
    username    TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     INTEGER REFERENCES users(id),
    revoked_at  INTEGER
  ) STRICT;

  -- Text settings a server records for 'sis admin' (the address an invitation carries).
  CREATE TABLE server_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 5 (several nodes, issue 16): the signed CRL every node serves, with its number (never goes down) and
  // the revocation version it covers (ports.ts ST9). One row at most.
  `
  CREATE TABLE crl (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    number             INTEGER NOT NULL,
    revocation_version INTEGER NOT NULL,
    signed_at          INTEGER NOT NULL,
    der                BLOB    NOT NULL
  ) STRICT;
  `,
  // 6 (issue 16): the deletion log the server polls, so a deletion by \`sis admin rm\` or \`sis admin delete
  // --images\` (another process) reaches its watchers as IMAGE_DELETED (PROTOCOL.md M27, M29). dseq is
  // AUTOINCREMENT: one writer at a time, so commit order, never reused after pruning (rows older than a day).
  `
  CREATE TABLE image_deletions (
    dseq       INTEGER PRIMARY KEY AUTOINCREMENT,
    seq        INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX image_deletions_at ON image_deletions(deleted_at);
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  override readonly name = "SchemaTooNewError";
}

function userVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}

/**
 * Brings `db` up to SCHEMA_VERSION. Each step runs in its own IMMEDIATE
 * transaction together with the user_version bump (user_version lives in the
 * database header and is transactional), so a crash leaves the database at
 * exactly one version. The version is re-read inside the transaction, so two
 * processes opening the same old database apply each step once.
 * A database from a newer build is refused rather than guessed at.
 */
export function migrate(db: Database, steps: readonly string[] = MIGRATIONS): number {
  for (;;) {
    const before = userVersion(db);
    if (before > steps.length) {
      throw new SchemaTooNewError(
        `database schema version ${before} is newer than this sis supports (${steps.length}); upgrade sis`,
      );
    }
    if (before === steps.length) return before;
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = userVersion(db);
      if (current === before) {
        db.exec(steps[current]!);
        // Integer from our own array length, not user input.
        db.exec(`PRAGMA user_version = ${current + 1}`);
      }
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw err;
    }
  }
}
