/**
 * Deletions across nodes (PROTOCOL.md M27, M29, M13; docs/SCALING.md): the deleting transaction logs the
 * deletion and rings the doorbell; every node's PostgresNotifier delivers it once, also when another
 * process (`sis admin rm`) deleted, also after a lost listener (the poll reads the log); a rolled-back
 * deletion is never delivered.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { SQL } from "bun";
import type { DeletionEvent, ImageRecord, UserRecord } from "../../src/server/ports.ts";
import { PostgresNotifier } from "../../src/store/postgres-notifier.ts";
import { DELETION_LOG_MS, deleteImageTx, logDeletionsTx } from "../../src/store/postgres-statements.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { until } from "../support/until.ts";
import { newImage } from "./fixtures.ts";

const POLL_MS = 300;

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

interface Node {
  store: PostgresStore;
  notifier: PostgresNotifier;
  gone: DeletionEvent[];
}

let url: string;
let dbName: string;
let nodes: Node[];
let alice: UserRecord;

async function startNode(name: string): Promise<Node> {
  const store = await PostgresStore.open(url, { max: 2, applicationName: `sis-store-${name}` });
  // No deletionsAfter: start() reads the log's counter itself.
  const notifier = await PostgresNotifier.start({
    url, store, startAfter: await store.highestSeq(), pollMs: POLL_MS, applicationName: `sis-listen-${name}`, onError: () => {},
  });
  const gone: DeletionEvent[] = [];
  notifier.subscribeDeletions((e) => gone.push(e));
  nodes.push({ store, notifier, gone });
  return nodes.at(-1)!;
}

const eventOf = (r: ImageRecord): DeletionEvent => ({ seq: r.seq, id: r.id, owner: r.owner, name: r.name });

beforeEach(async () => {
  url = await pg.newDatabase();
  dbName = new URL(url).pathname.slice(1);
  nodes = [];
  await startNode("a");
  await startNode("b");
  alice = await nodes[0]!.store.createUser("alice", "h");
});
afterEach(async () => {
  await pg.admin.unsafe(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
  for (const n of nodes) {
    await n.notifier.close();
    await n.store.close();
  }
});

test("an image deleted on node A is delivered on node B and on A, once each; no node lists it any more", async () => {
  const [a, b] = nodes as [Node, Node];
  const kept = await a.store.insertImage(newImage(alice, "kept.png"));
  const rec = await a.store.insertImage(newImage(alice, "gone.png"));
  expect(await a.store.deleteImage(rec.id)).toBe(true);
  a.notifier.publishDeletion(eventOf(rec)); // what handle-delete.ts does after the commit
  await until(() => a.gone.length === 1 && b.gone.length === 1, "both nodes to deliver the deletion");
  await a.notifier.settled();
  await b.notifier.settled();
  expect(a.gone).toEqual([eventOf(rec)]);
  expect(b.gone).toEqual([eventOf(rec)]);
  expect(b.notifier.lastDeletion).toBe(await a.store.highestDeletion());
  for (const n of nodes) expect((await n.store.listImages({ after: 0, limit: 10 })).map((r) => r.id)).toEqual([kept.id]);
});

test("another process's deletions (sis admin rm, sis admin delete --images) reach every node, in commit order", async () => {
  const admin = await PostgresStore.open(url, { max: 1, applicationName: "sis-admin" });
  try {
    const one = await admin.insertImage(newImage(alice, "one.png"));
    const bob = await admin.createUser("bob", "h");
    const bobs = [];
    for (const n of ["b1.png", "b2.png", "b3.png"]) bobs.push(await admin.insertImage(newImage(bob, n)));
    expect(await admin.deleteImage(one.id)).toBe(true);
    expect((await admin.deleteAccount("bob", true, Date.now()))?.sort()).toEqual(bobs.map((r) => r.id).sort());
    const expected = [one, ...bobs].map(eventOf);
    for (const n of nodes) {
      await until(() => n.gone.length >= 4, "every node to deliver the four deletions");
      await n.notifier.settled();
      // Bob's three are one transaction: their order among themselves is the DELETE's; as a set they follow one.png.
      expect(n.gone[0]).toEqual(expected[0]!);
      expect([...n.gone.slice(1)].sort((x, y) => x.seq - y.seq)).toEqual(expected.slice(1));
    }
    // The notification is the doorbell: with a 300 ms poll some may come from the poll, but each node heard at least one.
    for (const n of nodes) expect(n.notifier.stats.notifications).toBeGreaterThan(0);
  } finally {
    await admin.close();
  }
});

test("a rolled-back deletion is never delivered and the image stays; the deletion after it is delivered", async () => {
  const [a, b] = nodes as [Node, Node];
  const rec = await a.store.insertImage(newImage(alice, "stays.png"));
  const later = await a.store.insertImage(newImage(alice, "later.png"));
  const other = new SQL(url, { max: 1 });
  try {
    await expect(other.begin(async (tx) => {
      expect(await deleteImageTx(tx, rec.id, Date.now())).toBe(true);
      throw new Error("rolled back on purpose");
    })).rejects.toThrow("rolled back on purpose");
  } finally {
    await other.close();
  }
  expect(await a.store.deleteImage(later.id)).toBe(true);
  await until(() => b.gone.length > 0, "node B to deliver the committed deletion");
  const polls = b.notifier.stats.polls;
  await until(() => b.notifier.stats.polls >= polls + 2, "two more polls");
  await b.notifier.settled();
  expect(b.gone).toEqual([eventOf(later)]);
  expect(await b.store.findImage(rec.id)).not.toBeNull();
  // The rolled-back dseq went back with its transaction: the log holds one row, numbered 1.
  expect(await a.store.listDeletions(0, 10)).toEqual([{ dseq: 1, ...eventOf(later) }]);
});

test("a listener that cannot come back: the poll reads the deletion log and delivers", async () => {
  const [a, b] = nodes as [Node, Node];
  const rec = await a.store.insertImage(newImage(alice, "polled.png"));
  await pg.admin.unsafe(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
  const rows = await pg.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sis-listen-b'`;
  expect(rows.length).toBe(1);
  const heard = b.notifier.stats.notifications;
  expect(await a.store.deleteImage(rec.id)).toBe(true);
  await until(() => b.gone.length === 1, "node B's poll to deliver the deletion");
  expect(b.gone).toEqual([eventOf(rec)]);
  expect(b.notifier.stats.notifications).toBe(heard);
});

test("a node started after deletions begins after them; rows older than a day are pruned by the next deletion", async () => {
  const [a] = nodes as [Node, Node];
  const old = await a.store.insertImage(newImage(alice, "old.png"));
  expect(await a.store.deleteImage(old.id)).toBe(true);
  const late = await startNode("c");
  await late.notifier.settled();
  expect(late.notifier.lastDeletion).toBe(1);
  expect(late.gone).toEqual([]);

  // A deletion logged more than DELETION_LOG_MS after the first removes the first from the log.
  const sql = new SQL(url, { max: 1 });
  try {
    const next = await a.store.insertImage(newImage(alice, "next.png"));
    await sql.begin((tx) => logDeletionsTx(tx, [eventOf(next)], Date.now() + DELETION_LOG_MS + 60_000));
  } finally {
    await sql.close();
  }
  expect((await a.store.listDeletions(0, 10)).map((d) => [d.dseq, d.name])).toEqual([[2, "next.png"]]);
  await until(() => late.gone.length === 1, "the late node to deliver the new deletion");
  expect(late.gone.map((d) => d.name)).toEqual(["next.png"]);
});
