/** ST1 and ST6 on PostgreSQL under concurrency: seq is commit order even when one insert's commit is delayed on purpose (a reader paging with `after` never skips); a deletion and an insert for the same user serialise. */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { SQL } from "bun";
import type { ImageRecord, UserRecord } from "../../src/server/ports.ts";
import { deleteUserTx, insertImageTx } from "../../src/store/postgres-statements.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { until } from "../support/until.ts";
import { newCert, newImage } from "./fixtures.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

let url: string;
let schema: string;
let store: PostgresStore;
/** A second client, as another node: its transactions are held open by hand. */
let other: SQL;
let alice: UserRecord;
beforeEach(async () => {
  ({ url, schema } = await pg.newSchema());
  store = await PostgresStore.open(url, { max: 4, schema });
  other = new SQL(url, { max: 24, connection: { search_path: schema, application_name: "sis-other-node" } });
  alice = await store.createUser("alice", "h");
});
afterEach(async () => {
  await other.close();
  await store.close();
});

/** A catch-up reader as a watcher runs it: LIST after=cursor, the cursor moves to the highest seq seen. */
function reader() {
  const seen: ImageRecord[] = [];
  let cursor = 0;
  return {
    seen,
    async page(): Promise<void> {
      for (const r of await store.listImages({ after: cursor, limit: 100 })) {
        seen.push(r);
        cursor = r.seq;
      }
    },
  };
}

/** Backends of this database waiting for a lock (the second insert queued behind the first's counter row). */
async function lockWaiters(): Promise<number> {
  const [{ n }] = await pg.admin`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE '%counters%'`;
  return n;
}

/** Backends waiting for a lock on a users row (FOR SHARE behind a deletion's FOR UPDATE). */
async function userLockWaiters(): Promise<number> {
  const [{ n }] = await pg.admin`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'`;
  return n;
}

test("an insert whose commit is held back: a later insert waits for it and a reader misses neither (ST1)", async () => {
  const r = reader();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let firstSeq = 0;
  const first = other.begin(async (tx) => {
    firstSeq = await insertImageTx(tx, newImage(alice, "slow.png"), Date.now());
    await held; // the commit is delayed here, with seq already taken
  });
  await until(() => firstSeq > 0, "the first insert to take its seq");

  let secondSettled = false;
  const second = store.insertImage(newImage(alice, "fast.png")).finally(() => (secondSettled = true));
  await until(async () => (await lockWaiters()) > 0, "the second insert to wait for the counter row");
  // While the first is uncommitted the second cannot commit, and the reader sees neither.
  await r.page();
  expect(r.seen).toEqual([]);
  expect(secondSettled).toBe(false);

  release();
  await first;
  const rec = await second;
  expect(rec.seq).toBeGreaterThan(firstSeq);
  await r.page();
  expect(r.seen.map((x) => x.name)).toEqual(["slow.png", "fast.png"]);
});

test("a rolled-back insert hands its seq back and never becomes visible", async () => {
  const failed = other.begin(async (tx) => {
    await insertImageTx(tx, newImage(alice, "gone.png"), Date.now());
    throw new Error("rolled back on purpose");
  });
  await expect(failed).rejects.toThrow("rolled back on purpose");
  const rec = await store.insertImage(newImage(alice, "kept.png"));
  expect(rec.seq).toBe(1);
  expect(await store.findImageByName("alice", "gone.png")).toBeNull();
});

test("20 inserts on two nodes, each commit delayed by pg_sleep, while a reader pages: every image seen once, in seq order (ST1)", async () => {
  const r = reader();
  let done = false;
  const paging = (async () => {
    while (!done) {
      await r.page();
      await Bun.sleep(5);
    }
    await r.page();
  })();
  const inserts = Array.from({ length: 20 }, (_, i) => {
    const image = newImage(alice, `img${i}`);
    if (i % 2 === 0) return store.insertImage(image).then((x) => x.id);
    // The other node's insert sleeps between taking seq and COMMIT: the window where a sequence would reorder.
    return other.begin(async (tx) => {
      await insertImageTx(tx, image, Date.now());
      await tx`SELECT pg_sleep(${(i % 5) * 0.02})`;
    }).then(() => image.id);
  });
  const ids = await Promise.all(inserts);
  done = true;
  await paging;
  expect(r.seen.map((x) => x.id).sort()).toEqual([...ids].sort());
  const seqs = r.seen.map((x) => x.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(20);
});

test("the method catches the bug: with a sequence drawn at insert, a reader paging with `after` skips an image", async () => {
  // The counter-example ST1 describes, on a scratch table: proof that the reader above would notice.
  await other`CREATE TABLE naive (seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)`;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let took = false;
  const slow = other.begin(async (tx) => {
    await tx`INSERT INTO naive (name) VALUES ('slow')`;
    took = true;
    await held;
  });
  await until(() => took, "the slow insert to draw its seq");
  await other`INSERT INTO naive (name) VALUES ('fast')`;
  let cursor = 0;
  const seen: string[] = [];
  const page = async () => {
    for (const row of await other`SELECT seq, name FROM naive WHERE seq > ${cursor} ORDER BY seq`) {
      seen.push(row.name);
      cursor = Number(row.seq);
    }
  };
  await page();
  release();
  await slow;
  await page();
  expect(seen).toEqual(["fast"]);
  expect((await other`SELECT count(*)::int AS n FROM naive`)[0].n).toBe(2);
});

test("a deletion held open: an image and a certificate for that user wait for it, then are refused; nothing is left unrevoked (ST6)", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked = false;
  const deletion = other.begin(async (tx) => {
    expect(await deleteUserTx(tx, "alice", Date.now())).toBe(true);
    locked = true;
    await held;
  });
  await until(() => locked, "the deletion to lock alice's row");
  const image = store.insertImage(newImage(alice, "late.png"));
  const cert = store.addCert(newCert(alice.id, "0a0b"));
  // Either may be refused first, while the other is awaited: both are handled from the start.
  image.catch(() => {});
  cert.catch(() => {});
  await until(async () => (await userLockWaiters()) >= 2, "the insert and the certificate to wait for the deletion");
  release();
  await deletion;
  await expect(image).rejects.toThrow(/unknown or deleted user/);
  await expect(cert).rejects.toThrow(/unknown or deleted user/);
  expect(await store.findImageByName("alice", "late.png")).toBeNull();
  expect(await store.findCert("0a0b")).toBeNull();
});
