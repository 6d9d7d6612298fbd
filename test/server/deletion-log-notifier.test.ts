/** DeletionLogNotifier (one node on SQLite): deletions delivered from the store's log, once, whether this process or another (`sis admin rm`) deleted. */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { DeletionLogNotifier } from "../../src/server/deletion-log-notifier.ts";
import type { DeletionEvent, ImageEvent, ImageRecord, UserRecord } from "../../src/server/ports.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { newImage, tempDir } from "../store/fixtures.ts";
import { until } from "../support/until.ts";

const POLL_MS = 100;

let dir: ReturnType<typeof tempDir>;
let server: SqliteStore;
let admin: SqliteStore;
let alice: UserRecord;
let n: DeletionLogNotifier;
let gone: DeletionEvent[];

const eventOf = (r: ImageRecord): DeletionEvent => ({ seq: r.seq, id: r.id, owner: r.owner, name: r.name });

beforeEach(async () => {
  dir = tempDir("sis-deletion-log-");
  server = SqliteStore.open(join(dir.path, "sis.db"));
  admin = SqliteStore.open(join(dir.path, "sis.db"));
  alice = await server.createUser("alice", "h");
});
afterEach(async () => {
  await n?.close();
  server.close();
  admin.close();
  dir[Symbol.dispose]();
});

/** Absence is checked after two completed poll reads, not after a time. */
async function twoMorePolls(): Promise<void> {
  const polls = n.stats.polls;
  await until(() => n.stats.polls >= polls + 2, "two more polls");
}

async function start(): Promise<void> {
  n = await DeletionLogNotifier.start({ store: server, pollMs: POLL_MS });
  gone = [];
  n.subscribeDeletions((e) => gone.push(e));
}

test("this process's deletion: publishDeletion() wakes it and the log delivers it once, also after further polls", async () => {
  await start();
  const rec = await server.insertImage(newImage(alice, "cat.png"));
  expect(await server.deleteImage(rec.id)).toBe(true);
  n.publishDeletion(eventOf(rec));
  await until(() => gone.length > 0, "the deletion to be delivered");
  await twoMorePolls();
  await n.settled();
  expect(gone).toEqual([eventOf(rec)]);
  expect(n.lastDeletion).toBe(await server.highestDeletion());
});

test("another process's deletions (sis admin rm, delete --images) are delivered by the poll, in order", async () => {
  await start();
  const one = await admin.insertImage(newImage(alice, "one.png"));
  const two = await admin.insertImage(newImage(alice, "two.png"));
  expect(await admin.deleteImage(one.id)).toBe(true);
  expect(await admin.deleteAccount("alice", true, Date.now())).toEqual([two.id]);
  await until(() => gone.length === 2, "both deletions to be delivered by the poll");
  expect(gone).toEqual([eventOf(one), eventOf(two)]);
});

test("new images are delivered in process at publish(); deletions logged before start are not delivered; after close() nothing is", async () => {
  const old = await server.insertImage(newImage(alice, "old.png"));
  expect(await server.deleteImage(old.id)).toBe(true);
  await start();
  const images: ImageEvent[] = [];
  n.subscribe((e) => images.push(e));
  const rec = await server.insertImage(newImage(alice, "new.png"));
  n.publish(rec);
  expect(images.map((e) => e.id)).toEqual([rec.id]);
  n.publishDeletion(eventOf(old));
  await n.settled();
  expect(gone).toEqual([]);

  await twoMorePolls();
  expect(gone).toEqual([]);

  await n.close();
  const polls = n.stats.polls;
  expect(await admin.deleteImage(rec.id)).toBe(true);
  // Closed: no poll runs any more, so nothing can be delivered (a fresh notifier would see the row).
  for (let i = 0; i < 3; i++) await Bun.sleep(POLL_MS);
  expect({ polls: n.stats.polls, gone }).toEqual({ polls, gone: [] });
  const fresh = await DeletionLogNotifier.start({ store: server, pollMs: POLL_MS });
  expect(fresh.lastDeletion).toBe(await server.highestDeletion());
  await fresh.close();
});
