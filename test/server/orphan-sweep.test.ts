/** The S3 orphan sweep while running (S3-3, ports.ts ST11): two nodes on one PostgreSQL and one bucket (s3rver); one sweeps at a time, by age. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { S3Client } from "bun";
import { createLogger } from "../../src/server/logger.ts";
import { ORPHAN_SWEEP_LOCK, startOrphanSweep, type OrphanSweep } from "../../src/server/orphan-sweep.ts";
import { ProcessLocks } from "../../src/server/process-locks.ts";
import { MIN_PART_SIZE, S3BlobStore } from "../../src/store/index.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { bytes, newImage, randomId } from "../store/fixtures.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { S3RVER_KEY, type S3Server, startS3 } from "../support/s3.ts";

setDefaultTimeout(60_000);

let pg: PostgresServer;
let s3: S3Server;
const cleanup: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  [pg, s3] = await Promise.all([startPostgres(), startS3()]);
}, 120_000);
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await s3?.[Symbol.asyncDispose]();
  await pg?.stop();
});

const silent = createLogger(() => {}, { level: "error" });

function raw(): S3Client {
  return new S3Client({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, region: "us-east-1" });
}

interface Node { store: PostgresStore; blobs: S3BlobStore; sweep: OrphanSweep }

/** Two nodes: each its own PostgresStore on one schema, its own S3BlobStore on one prefix, its own sweeper (never fired by its timer here). */
async function twoNodes(minOrphanAgeMs: number): Promise<{ prefix: string; nodes: [Node, Node] }> {
  const { url, schema } = await pg.newSchema();
  const prefix = `sweep-${randomId()}/`;
  const make = async (): Promise<Node> => {
    const store = await PostgresStore.open(url, { max: 3, schema });
    const blobs = new S3BlobStore({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, prefix, partSize: MIN_PART_SIZE, retry: 1, minOrphanAgeMs });
    const sweep = startOrphanSweep({ blobs, store, locks: store, intervalMs: 3_600_000, log: silent });
    cleanup.push(() => sweep.stop(), () => store.close());
    return { store, blobs, sweep };
  };
  return { prefix, nodes: [await make(), await make()] };
}

describe("the orphan sweep while running", () => {
  test("while node A holds the sweep lock node B's sweep does not run; after it, B removes the old orphan and keeps the committed blob", async () => {
    const { prefix, nodes: [a, b] } = await twoNodes(0);
    const client = raw();
    const owner = await a.store.createUser("alice", "$argon2id$unused");
    const kept = newImage(owner, "kept.png");
    await client.write(prefix + kept.id, "a committed blob");
    await a.store.insertImage(kept);
    const orphan = randomId();
    await client.write(prefix + orphan, "a blob whose row never committed");

    const held = await a.store.tryExclusive(ORPHAN_SWEEP_LOCK, async () => {
      expect(await b.sweep.runOnce()).toBeNull();
      return client.exists(prefix + orphan);
    });
    expect(held).toEqual({ value: true });
    // The lock is free again: B sweeps, by age (0 here), and only the orphan goes.
    expect(await b.sweep.runOnce()).toEqual([orphan]);
    expect(await client.exists(prefix + orphan)).toBe(false);
    expect(await client.exists(prefix + kept.id)).toBe(true);
  });

  test("another node's upload in progress and its just-committed blob without a row survive a sweep (the minimum orphan age)", async () => {
    const { prefix, nodes: [a, b] } = await twoNodes(60 * 60 * 1000);
    const client = raw();
    // A: one blob committed in the bucket, its row not yet; another still being uploaded (multipart, parts sent).
    const done = randomId();
    const w1 = await a.blobs.create(done);
    await w1.write(bytes(1000));
    await w1.commit();
    const inProgress = randomId();
    const data = bytes(MIN_PART_SIZE + 100);
    const w2 = await a.blobs.create(inProgress);
    await w2.write(data.subarray(0, MIN_PART_SIZE));

    expect(await b.sweep.runOnce()).toEqual([]);
    expect(await client.exists(prefix + done)).toBe(true);
    await w2.write(data.subarray(MIN_PART_SIZE));
    await w2.commit();
    expect((await client.file(prefix + inProgress).arrayBuffer()).byteLength).toBe(data.byteLength);
  });

  test("a sweep that fails releases the lock: the other node sweeps next", async () => {
    const { prefix, nodes: [a, b] } = await twoNodes(0);
    const orphan = randomId();
    await raw().write(prefix + orphan, "orphan");
    const failing = startOrphanSweep({
      blobs: { minOrphanAgeMs: 0, sweep: () => Promise.reject(new Error("the store is down")) },
      store: a.store,
      locks: a.store,
      intervalMs: 3_600_000,
      log: silent,
    });
    cleanup.push(() => failing.stop());
    await expect(failing.runOnce()).rejects.toThrow("the store is down");
    expect(await b.sweep.runOnce()).toEqual([orphan]);
  });
});

describe("ProcessLocks (one node)", () => {
  test("a second holder of the same name is refused while the first runs, and may run after it, also after a throw", async () => {
    const locks = new ProcessLocks();
    const inner = await locks.tryExclusive("x", async () => [await locks.tryExclusive("x", async () => 1), await locks.tryExclusive("y", async () => 2)]);
    expect(inner).toEqual({ value: [null, { value: 2 }] });
    await expect(locks.tryExclusive("x", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await locks.tryExclusive("x", async () => 3)).toEqual({ value: 3 });
  });
});
