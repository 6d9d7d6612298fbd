/** PostgresStore against the server's own failures and settings: killed backends (pg_terminate_backend), versioned migrations, synchronous_commit. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { SchemaTooNewError } from "../../src/store/migrations.ts";
import { migratePostgres, PG_SCHEMA_VERSION } from "../../src/store/postgres-migrations.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, postgresBinDir, startPostgres } from "../support/postgres.ts";
import { newCert, newImage } from "./fixtures.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

async function terminate(applicationName: string): Promise<number> {
  const rows = await pg.admin`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
    WHERE application_name = ${applicationName} AND pid <> pg_backend_pid()`;
  return rows.length;
}

async function busyBackends(applicationName: string): Promise<number> {
  const [{ n }] = await pg.admin`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE application_name = ${applicationName} AND state IN ('active', 'idle in transaction')`;
  return n;
}

describe("killed connections (pg_terminate_backend)", () => {
  test("inserts while the store's backends are killed again and again: every acknowledged image is kept, none twice (ST2)", async () => {
    const { url, schema } = await pg.newSchema();
    const store = await PostgresStore.open(url, { max: 4, schema, applicationName: "sis-store-killed" });
    try {
      const alice = await store.createUser("alice", "h");
      let stop = false;
      let kills = 0;
      // Ten rounds: each waits for a backend of the store in the middle of a statement or a
      // transaction, then kills every backend of the store; then leaves it 100 ms to recover.
      const killer = (async () => {
        for (let round = 0; round < 10 && !stop; round++) {
          while (!stop && (await busyBackends("sis-store-killed")) === 0) await Bun.sleep(2);
          kills += await terminate("sis-store-killed");
          await Bun.sleep(100);
        }
      })();
      const results = await Promise.allSettled(Array.from({ length: 60 }, async (_, i) => {
        // Four at a time, like four uploads finishing together.
        await Bun.sleep(Math.floor(i / 4) * 40);
        return store.insertImage(newImage(alice, `img${i}.png`));
      }));
      stop = true;
      await killer;
      expect(kills).toBeGreaterThan(0);

      const acknowledged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failures = results.flatMap((r) => (r.status === "rejected" ? [`${r.reason} ${r.reason.code} ${r.reason.errno}`] : []));
      // The store retries on a fresh connection, so a killed backend costs a retry, not an upload.
      expect(failures).toEqual([]);
      const fresh = await PostgresStore.open(url, { max: 1, schema });
      try {
        for (const rec of acknowledged) expect(await fresh.findImage(rec.id)).toEqual(rec);
        const all = await fresh.listImages({ after: 0, limit: 1000 });
        expect(all.length).toBe(60);
        expect(new Set(all.map((r) => r.seq)).size).toBe(60);
      } finally {
        await fresh.close();
      }
    } finally {
      await store.close();
    }
  });

  test("a revocation and reads work again after every connection of the store was killed", async () => {
    const { url, schema } = await pg.newSchema();
    const store = await PostgresStore.open(url, { max: 2, schema, applicationName: "sis-store-idle" });
    try {
      const alice = await store.createUser("alice", "h");
      await store.addCert(newCert(alice.id, "0a01"));
      expect(await terminate("sis-store-idle")).toBeGreaterThan(0);
      expect(await store.revokeSerial("0a01", 5)).toBe(true);
      expect(await store.revocationVersion()).toBe(1);
      expect((await store.findCert("0a01"))?.revokedAt).toBe(5);
    } finally {
      await store.close();
    }
  });
});

test("PostgreSQL restarted while images are inserted: every call resolves after the restart and every acknowledged image is kept (ST2)", async () => {
  const { url, schema } = await pg.newSchema();
  const store = await PostgresStore.open(url, { max: 4, schema });
  try {
    const alice = await store.createUser("alice", "h");
    await store.insertImage(newImage(alice, "before.png"));
    // pg_ctl stop runs before the inserts are issued: they meet a stopped server, then a starting one.
    const restarting = pg.restart();
    const during = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => store.insertImage(newImage(alice, `during${i}.png`))));
    await restarting;
    expect(during.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []))).toEqual([]);
    const after = await store.insertImage(newImage(alice, "after.png"));
    const all = await store.listImages({ after: 0, limit: 100 });
    expect(all.length).toBe(14);
    expect(all.at(-1)).toEqual(after);
    for (const r of during) if (r.status === "fulfilled") expect(await store.findImage(r.value.id)).toEqual(r.value);
  } finally {
    await store.close();
  }
});

describe("migrations (schema_version)", () => {
  test("open() stamps the current version and two nodes opening a new database together migrate it once", async () => {
    const { url, schema } = await pg.newSchema();
    const [a, b] = await Promise.all([
      PostgresStore.open(url, { schema }),
      PostgresStore.open(url, { schema }),
    ]);
    try {
      const sql = new SQL(url, { max: 1, connection: { search_path: schema } });
      expect([...(await sql`SELECT version FROM schema_version`)]).toEqual([{ version: PG_SCHEMA_VERSION }]);
      await sql.close();
      const alice = await a.createUser("alice", "h");
      expect((await b.findUser("alice"))?.id).toBe(alice.id);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("open() refuses a database from a newer schema version with a clear error", async () => {
    const { url, schema } = await pg.newSchema();
    await (await PostgresStore.open(url, { schema })).close();
    const sql = new SQL(url, { max: 1, connection: { search_path: schema } });
    await sql`UPDATE schema_version SET version = ${PG_SCHEMA_VERSION + 1}`;
    await sql.close();
    const refused = PostgresStore.open(url, { schema });
    await expect(refused).rejects.toThrow(SchemaTooNewError);
    await expect(PostgresStore.open(url, { schema })).rejects.toThrow(/newer than this sis supports.*upgrade sis/);
  });

  test("migratePostgres() upgrades step by step, keeps the data, and a failing step leaves the previous version", async () => {
    const { url, schema } = await pg.newSchema();
    const sql = new SQL(url, { max: 1, connection: { search_path: schema } });
    try {
      await sql.unsafe(`CREATE SCHEMA ${schema}`);
      const steps = ["CREATE TABLE t (x INTEGER)", "ALTER TABLE t ADD COLUMN y TEXT"];
      expect(await migratePostgres(sql, steps.slice(0, 1))).toBe(1);
      await sql`INSERT INTO t (x) VALUES (1)`;
      expect(await migratePostgres(sql, steps)).toBe(2);
      expect([...(await sql`SELECT x, y FROM t`)]).toEqual([{ x: 1, y: null }]);
      expect(await migratePostgres(sql, steps)).toBe(2);
      await expect(migratePostgres(sql, [...steps, "CREATE TABLE u (x INTEGER); SELECT * FROM nowhere"])).rejects.toThrow();
      expect([...(await sql`SELECT version FROM schema_version`)]).toEqual([{ version: 2 }]);
      expect((await sql`SELECT to_regclass('u') AS t`)[0].t).toBeNull();
    } finally {
      await sql.close();
    }
  });
});

test("open() refuses a database whose commits are acknowledged before they are flushed (synchronous_commit=off)", async () => {
  const url = await pg.newDatabase();
  const db = new URL(url).pathname.slice(1);
  await pg.admin.unsafe(`ALTER DATABASE ${db} SET synchronous_commit = off`);
  await expect(PostgresStore.open(url)).rejects.toThrow(/synchronous_commit=off.*set it to on/);
});

test("the test harness fails with what to install when the PostgreSQL server binaries are missing", () => {
  expect(() => postgresBinDir(["/nonexistent/bin"])).toThrow(
    "PostgreSQL server binaries not found: apt-get install postgresql (looked in /nonexistent/bin)",
  );
  expect(postgresBinDir()).toBeString();
});
