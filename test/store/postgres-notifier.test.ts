/** PostgresNotifier: two "nodes" (a store and a notifier each) on one database; NOTIFY is the doorbell, the poll covers a lost listener. */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { SQL } from "bun";
import type { ImageEvent, UserRecord } from "../../src/server/ports.ts";
import { PostgresNotifier } from "../../src/store/postgres-notifier.ts";
import { insertImageTx } from "../../src/store/postgres-statements.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { until } from "../support/until.ts";
import { newImage } from "./fixtures.ts";

/** Short for the test; the default is 2 s. */
const POLL_MS = 300;

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

interface Node {
  name: string;
  store: PostgresStore;
  notifier: PostgresNotifier;
  events: ImageEvent[];
}

let url: string;
let dbName: string;
let nodes: Node[];
let alice: UserRecord;

async function startNode(name: string, pollMs = POLL_MS): Promise<Node> {
  const store = await PostgresStore.open(url, { max: 2, applicationName: `sis-store-${name}` });
  const notifier = await PostgresNotifier.start({
    url, store, startAfter: await store.highestSeq(), pollMs, applicationName: `sis-listen-${name}`, onError: () => {},
  });
  const events: ImageEvent[] = [];
  notifier.subscribe((e) => events.push(e));
  return { name, store, notifier, events };
}

async function terminate(applicationName: string): Promise<number> {
  const rows = await pg.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`;
  return rows.length;
}

beforeEach(async () => {
  url = await pg.newDatabase();
  dbName = new URL(url).pathname.slice(1);
  nodes = [await startNode("a"), await startNode("b")];
  alice = await nodes[0]!.store.createUser("alice", "h");
});
afterEach(async () => {
  await pg.admin.unsafe(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
  for (const n of nodes) {
    await n.notifier.close();
    await n.store.close();
  }
});

test("an image stored on node A is published on node B, and on A once, in the same order", async () => {
  const [a, b] = nodes as [Node, Node];
  const recs = [];
  for (const n of ["one.png", "two.png", "three.png"]) {
    const rec = await a.store.insertImage(newImage(alice, n));
    a.notifier.publish(rec); // what handle-post.ts does after POSTED
    recs.push(rec);
  }
  await until(() => b.events.length === 3 && a.events.length === 3, "both nodes to publish three events");
  const expected = recs.map((r) => ({ seq: r.seq, id: r.id, owner: "alice", name: r.name, size: r.size, contentType: r.contentType, createdAt: r.createdAt }));
  expect(b.events).toEqual(expected);
  expect(a.events).toEqual(expected);
  await a.notifier.settled();
  expect(a.events.length).toBe(3);
  expect(b.notifier.stats.notifications).toBeGreaterThan(0);
});

test("a rolled-back insert is never published; the insert after it is", async () => {
  const [, b] = nodes as [Node, Node];
  const other = new SQL(url, { max: 1 });
  try {
    await expect(other.begin(async (tx) => {
      await insertImageTx(tx, newImage(alice, "gone.png"), Date.now());
      throw new Error("rolled back on purpose");
    })).rejects.toThrow("rolled back on purpose");
    const kept = await nodes[0]!.store.insertImage(newImage(alice, "kept.png"));
    await until(() => b.events.length > 0, "node B to publish the committed image");
    // Two poll rounds later nothing else arrived either.
    const polls = b.notifier.stats.polls;
    await until(() => b.notifier.stats.polls >= polls + 2, "two more polls");
    await b.notifier.settled();
    expect(b.events.map((e) => [e.name, e.id])).toEqual([["kept.png", kept.id]]);
  } finally {
    await other.close();
  }
});

test("node B's LISTEN connection killed again and again while A inserts: every image reaches B exactly once", async () => {
  const [a, b] = nodes as [Node, Node];
  let stop = false;
  let kills = 0;
  const killer = (async () => {
    while (!stop) {
      kills += await terminate("sis-listen-b");
      await Bun.sleep(40);
    }
  })();
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const rec = await a.store.insertImage(newImage(alice, `img${i}.png`));
    a.notifier.publish(rec);
    ids.push(rec.id);
    await Bun.sleep(5);
  }
  stop = true;
  await killer;
  expect(kills).toBeGreaterThan(0);
  await until(() => b.events.length >= ids.length, "node B to publish all 40 images", 10 * POLL_MS + 10_000);
  await b.notifier.settled();
  expect(b.events.map((e) => e.id)).toEqual(ids);
  expect(a.events.map((e) => e.id)).toEqual(ids);
  // Each re-established LISTEN triggered a catch-up read of what was sent while it was down. The
  // poll can bring all 40 before the last kill's LISTEN is back (its retry waits): wait for it.
  await until(() => b.notifier.stats.relistens > 0, "node B to LISTEN again", 10 * POLL_MS + 10_000);
  expect(b.notifier.stats.relistens).toBeGreaterThan(0);
});

test("a listener that cannot come back: the poll alone delivers, and the time since the last check shows a dead poll", async () => {
  const [a, b] = nodes as [Node, Node];
  // No new connection to this database: B's LISTEN cannot reconnect once killed; the open pool connections stay.
  await pg.admin.unsafe(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
  expect(await terminate("sis-listen-b")).toBe(1);
  const heard = b.notifier.stats.notifications;
  const rec = await a.store.insertImage(newImage(alice, "polled.png"));
  await until(() => b.events.some((e) => e.id === rec.id), "node B's poll to deliver the image");
  expect(b.notifier.stats.notifications).toBe(heard);
  expect(b.notifier.stats.relistens).toBe(0);

  // Now B's reads fail too (its store's connections killed, none can open): the poll fails and the age grows.
  await terminate("sis-store-b");
  const failures = b.notifier.stats.failures;
  await until(() => b.notifier.stats.failures > failures, "a failed poll on node B");
  await until(() => b.notifier.msSinceLastCheck() > 3 * POLL_MS, "the age of B's last check to pass three poll intervals");
  const deadAge = b.notifier.msSinceLastCheck();

  // Connections allowed again: the listener comes back, the next image arrives, the age drops below it.
  await pg.admin.unsafe(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
  await until(() => b.notifier.stats.relistens > 0, "node B's LISTEN to be re-established", 20_000);
  const next = await a.store.insertImage(newImage(alice, "after.png"));
  await until(() => b.events.some((e) => e.id === next.id), "node B to deliver the next image");
  await b.notifier.settled();
  expect(b.notifier.msSinceLastCheck()).toBeLessThan(deadAge);
  expect(b.events.map((e) => e.name)).toEqual(["polled.png", "after.png"]);
});
