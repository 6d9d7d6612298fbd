/** Versioned PostgreSQL schema: an ordered list of steps, recorded in the schema_version table, applied under an advisory lock. */
import type { SQL } from "bun";
import { SchemaTooNewError } from "./migrations.ts";

/**
 * Step i upgrades the schema from version i to version i + 1; steps are only
 * ever appended (as for SQLite, src/store/migrations.ts). The data is the
 * same as SQLite's; the differences are PostgreSQL's:
 * - every name is `COLLATE "C"`: equality and uniqueness byte for byte (ST4);
 * - times are BIGINT Unix milliseconds, bytes are BYTEA;
 * - seq is NOT drawn from a sequence: insertImage takes it from the
 *   `image_seq` counter row inside its transaction (ST1, postgres-statements.ts);
 * - `revocation_version` is a counter row bumped in the revoking transaction (ST3).
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: users, certificates, images, counters.
  `
  CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Soft delete: the name stays reserved and the certificates stay in the CRL.
    deleted_at    BIGINT
  );

  CREATE TABLE certificates (
    serial     TEXT COLLATE "C" PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    der        BYTEA  NOT NULL,
    not_before BIGINT NOT NULL,
    not_after  BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX certificates_user ON certificates(user_id);
  CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;

  CREATE TABLE images (
    seq           BIGINT PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    owner_id      BIGINT NOT NULL REFERENCES users(id),
    name          TEXT COLLATE "C" NOT NULL,
    content_type  TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    cipher_size   BIGINT NOT NULL,
    header        BYTEA  NOT NULL,
    signature     BYTEA  NOT NULL,
    wrapped_key   BYTEA  NOT NULL,
    signer_serial TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (owner_id, name)
  );

  -- One row per counter. image_seq: the highest seq ever handed out (never
  -- goes down, so a seq is never reused); its row lock serialises inserts.
  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
  );
  INSERT INTO counters (name, value) VALUES ('image_seq', 0), ('revocation_version', 0);
  `,
  // 2 (SQLite's steps 2-4 in one): time-stamps and revocation by date (ENVELOPE.md G8, V13), devices and
  // one-time link codes stored hashed (PROTOCOL.md M20-M24), membership: disabled accounts, coarse
  // last-seen, invitations stored hashed (M1-M14) and the server's text settings (the advertised address).
  `
  ALTER TABLE images ADD COLUMN timestamp_token BYTEA;
  ALTER TABLE certificates ADD COLUMN revocation_reason TEXT;
  ALTER TABLE certificates ADD COLUMN invalidity_date BIGINT;
  ALTER TABLE certificates ADD COLUMN device TEXT;
  ALTER TABLE certificates ADD COLUMN last_seen_at BIGINT;
  CREATE TABLE link_codes (
    hash       BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
  );
  CREATE INDEX images_owner ON images(owner_id);

  ALTER TABLE users ADD COLUMN disabled_at BIGINT;
  ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
  CREATE TABLE invitations (
    id          TEXT COLLATE "C" PRIMARY KEY,
    secret_hash BYTEA  NOT NULL UNIQUE,
    username    TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_by     BIGINT REFERENCES users(id),
    revoked_at  BIGINT
  );
  CREATE TABLE server_info (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 3 (SQLite's step 5; several nodes, issue 16): the signed CRL every node serves, its number (never goes
  // down) and the revocation version it covers (ports.ts ST9). One row at most.
  `
  CREATE TABLE crl (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    number             BIGINT NOT NULL,
    revocation_version BIGINT NOT NULL,
    signed_at          BIGINT NOT NULL,
    der                BYTEA  NOT NULL
  );
  `,
  // 4 (several nodes, issue 16): the login throttle's counters, one row per key (ports.ts ST10), so
  // wrong passwords spread over the nodes count together. SQLite (one node) keeps them in memory.
  `
  CREATE TABLE throttle (
    key          TEXT COLLATE "C" PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure BIGINT  NOT NULL
  );
  CREATE INDEX throttle_last ON throttle(last_failure);
  `,
  // 5 (several nodes, issue 16): the deletion log every node's doorbell reads after a lost notification,
  // as it reads images after the last seq (postgres-notifier.ts). \`deletion_seq\` is its counter, taken
  // inside the deleting transaction like image_seq (ST1): commit order is dseq order. Rows older than a
  // day are pruned by later deletions. SQLite (one node) has none (PROTOCOL.md M29).
  `
  CREATE TABLE image_deletions (
    dseq       BIGINT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    owner      TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    deleted_at BIGINT NOT NULL
  );
  CREATE INDEX image_deletions_at ON image_deletions(deleted_at);
  INSERT INTO counters (name, value) VALUES ('deletion_seq', 0);
  `,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Key of the transaction-level advisory lock that serialises migrations across nodes ("sis-mig"). */
const MIGRATION_LOCK = 0x7369_732d_6d69_67n;

async function currentVersion(sql: SQL): Promise<number> {
  const rows = await sql`SELECT version FROM schema_version`;
  return rows.length === 0 ? 0 : Number(rows[0].version);
}

/**
 * Brings the database up to PG_SCHEMA_VERSION. Each step runs in its own
 * transaction with the version bump; the transaction first takes an advisory
 * lock and re-reads the version, so nodes starting together apply each step
 * once. A database from a newer build is refused.
 */
export async function migratePostgres(sql: SQL, steps: readonly string[] = PG_MIGRATIONS): Promise<number> {
  await sql`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`.catch(async (err) => {
    // Two nodes racing on CREATE TABLE IF NOT EXISTS: one may see a unique violation on the catalog.
    if ((await sql`SELECT to_regclass('schema_version') AS t`)[0].t === null) throw err;
  });
  for (;;) {
    const done = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
      const version = await currentVersion(tx);
      if (version > steps.length) {
        throw new SchemaTooNewError(
          `database schema version ${version} is newer than this sis supports (${steps.length}); upgrade sis`,
        );
      }
      if (version === steps.length) return version;
      await tx.unsafe(steps[version]!);
      if (version === 0) await tx`INSERT INTO schema_version (version) VALUES (1)`;
      else await tx`UPDATE schema_version SET version = ${version + 1}`;
      return -1;
    });
    if (done >= 0) return done;
  }
}
