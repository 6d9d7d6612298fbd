/** SqliteStore: the shared Store contract, then what only SQLite has (PRAGMAs, migrations, files). */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, SqliteStore, migrate } from "../../src/store/index.ts";
import { newCert, newImage, tempDir } from "./fixtures.ts";
import { runStoreContract } from "./store-contract.ts";

runStoreContract("SqliteStore", async () => {
  const dir = tempDir();
  const path = join(dir.path, "sis.db");
  const store = SqliteStore.open(path);
  const twins: SqliteStore[] = [];
  return {
    store,
    twin: async () => {
      const t = SqliteStore.open(path);
      twins.push(t);
      return t;
    },
    cleanup: async () => {
      for (const t of twins) await t.close();
      await store.close();
      dir[Symbol.dispose]();
    },
  };
});

describe("SqliteStore on disk", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, "sis.db");
  });
  afterEach(() => dir[Symbol.dispose]());

  test("open() puts WAL, synchronous=FULL, foreign keys and a busy timeout in force", () => {
    using store = SqliteStore.open(path);
    expect(store.pragma("journal_mode")).toBe("wal");
    expect(store.pragma("synchronous")).toBe(2);
    expect(store.pragma("foreign_keys")).toBe(1);
    expect(store.pragma("busy_timeout")).toBe(5000);
  });

  test("the pragmas hold on a second connection too", () => {
    using first = SqliteStore.open(path);
    using second = SqliteStore.open(path);
    expect(first.pragma("journal_mode")).toBe("wal");
    expect(second.pragma("synchronous")).toBe(2);
  });

  test("open() creates the database file readable by its owner only", () => {
    using _store = SqliteStore.open(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("open() stamps the current schema version", () => {
    using store = SqliteStore.open(path);
    expect(store.pragma("user_version")).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  test("reopening a database keeps its users, certificates and images", async () => {
    let imageId: string;
    {
      using store = SqliteStore.open(path);
      const alice = await store.createUser("alice", "h");
      await store.addCert(newCert(alice.id, "a1"));
      await store.revokeSerial("a1", 7);
      imageId = (await store.insertImage(newImage(alice, "cat.png"))).id;
    }
    using store = SqliteStore.open(path);
    expect((await store.findUser("alice"))?.passwordHash).toBe("h");
    expect((await store.findCert("a1"))?.revokedAt).toBe(7);
    expect(await store.revocationVersion()).toBe(1);
    expect((await store.findImage(imageId))?.name).toBe("cat.png");
    expect(store.pragma("user_version")).toBe(SCHEMA_VERSION);
  });

  test("open() refuses a database from a newer schema version with a clear error", () => {
    {
      using _store = SqliteStore.open(path);
    }
    const raw = new Database(path);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => SqliteStore.open(path)).toThrow(SchemaTooNewError);
    expect(() => SqliteStore.open(path)).toThrow(/newer than this sis supports.*upgrade sis/);
  });

  test("migrate() upgrades an older database step by step and keeps its data", () => {
    const steps = ["CREATE TABLE t (x INTEGER) STRICT", "ALTER TABLE t ADD COLUMN y TEXT"];
    const db = new Database(path);
    try {
      expect(migrate(db, steps.slice(0, 1))).toBe(1);
      db.exec("INSERT INTO t (x) VALUES (1)");
      expect(migrate(db, steps)).toBe(2);
      expect(db.query("SELECT x, y FROM t").all()).toEqual([{ x: 1, y: null }]);
      expect(migrate(db, steps)).toBe(2);
    } finally {
      db.close();
    }
  });

  // Time-stamps, revocation by date (issue 12): a database of schema 1 opens with its rows unstamped and its revocations without reason.
  test("a schema-1 database is upgraded in place: its images have no token and are listed unstamped, its revocations have no reason", async () => {
    const db = new Database(path);
    try {
      migrate(db, MIGRATIONS.slice(0, 1));
      db.exec("INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'alice', 'h', 1)");
      db.exec("INSERT INTO certificates (serial, user_id, der, not_before, not_after, revoked_at, created_at) VALUES ('a1', 1, x'00', 1, 2, 5, 1)");
      db.exec(
        "INSERT INTO images (id, owner_id, name, content_type, size, cipher_size, header, signature, wrapped_key, signer_serial, created_at) " +
          `VALUES ('${"a".repeat(32)}', 1, 'old.png', 'image/png', 1, 17, x'00', x'00', x'00', 'a1', 1)`,
      );
    } finally {
      db.close();
    }
    using store = SqliteStore.open(path);
    expect(store.pragma("user_version")).toBe(SCHEMA_VERSION);
    const [old] = await store.listUnstampedImages(0, 10);
    expect(old).toMatchObject({ name: "old.png", timestampToken: null });
    expect(await store.listRevoked()).toStrictEqual([{ serial: "a1", revokedAt: 5 }]);
  });

  test("a failing migration step leaves the database at the previous version", () => {
    const db = new Database(path);
    try {
      migrate(db, ["CREATE TABLE t (x INTEGER)"]);
      expect(() => migrate(db, ["CREATE TABLE t (x INTEGER)", "CREATE TABLE u (x); SELECT * FROM nowhere"]))
        .toThrow();
      expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: 1 });
      expect(db.query("SELECT name FROM sqlite_master WHERE name = 'u'").all()).toEqual([]);
    } finally {
      db.close();
    }
  });

  test("seq is not reused after the newest image is deleted directly", async () => {
    using store = SqliteStore.open(path);
    const alice = await store.createUser("alice", "h");
    const newest = await store.insertImage(newImage(alice, "a"));
    expect(await store.deleteImage(newest.id)).toBe(true);
    expect(await store.deleteImage(newest.id)).toBe(false);
    expect((await store.insertImage(newImage(alice, "b"))).seq).toBeGreaterThan(newest.seq);
  });

  test("integrityCheck() reports ok on a healthy database", async () => {
    using store = SqliteStore.open(path);
    await store.createUser("alice", "h");
    expect(store.integrityCheck()).toBe("ok");
  });
});
