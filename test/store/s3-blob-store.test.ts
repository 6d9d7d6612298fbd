/** S3BlobStore against a real S3 server (s3rver, a child process): the BlobStore contract, then multipart, abort, age-only sweeps and a store that dies mid-upload. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { S3Client } from "bun";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { MIN_PART_SIZE, S3BlobStore, type S3BlobStoreOptions } from "../../src/store/index.ts";
import { S3RVER_KEY, type S3Server, startS3 } from "../support/s3.ts";
import { until } from "../support/until.ts";
import { runBlobStoreContract } from "./blob-store-contract.ts";
import { bytes, collect, concat, randomId } from "./fixtures.ts";

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.[Symbol.asyncDispose]();
});

/** Each store gets its own prefix, so one test's sweep never sees another's objects. */
function store(extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY,
    prefix: `t-${randomId()}/`, partSize: MIN_PART_SIZE, retry: 1, minOrphanAgeMs: 0, ...extra,
  });
}

function rawClient(): S3Client {
  return new S3Client({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, region: "us-east-1" });
}

/** Multipart uploads s3rver holds open (it keeps their parts under this folder until completed). */
function openUploads(): string[] {
  try {
    return readdirSync(join(s3.dir, s3.bucket, "._S3rver_uploads"));
  } catch {
    return [];
  }
}

async function put(blobs: S3BlobStore, id: string, data: Uint8Array, chunk = 1024 * 1024): Promise<void> {
  const w = await blobs.create(id);
  for (let i = 0; i < data.byteLength; i += chunk) await w.write(data.subarray(i, i + chunk));
  await w.commit();
}

runBlobStoreContract("S3BlobStore", async () => ({ blobs: store(), cleanup: () => {}, unfinishedWritesListed: false }));

describe("S3BlobStore on s3rver", () => {
  test("S3-2: a blob of several parts is sent while it arrives, invisible until commit, and reads back by range", async () => {
    const blobs = store();
    const id = randomId();
    const data = bytes(2 * MIN_PART_SIZE + 12345);
    const before = openUploads().length;
    const w = await blobs.create(id);
    for (let i = 0; i < 2 * MIN_PART_SIZE + 1; i += 512 * 1024) await w.write(data.subarray(i, Math.min(i + 512 * 1024, data.byteLength)));
    // A multipart upload is open on the server with parts in it, and still nothing under the key.
    // Bun.s3's writer sends a part in the background once it has 5 MiB: the upload shows up soon after the write.
    await until(() => openUploads().length === before + 1, "the multipart upload to be open on s3rver");
    expect(openUploads().length).toBe(before + 1);
    await expect(blobs.open(id)).rejects.toMatchObject({ code: "ENOENT" });
    await w.write(data.subarray(w.bytesWritten));
    await w.commit();
    expect(openUploads().length).toBe(before);
    expect(await rawClient().size(`${blobs.prefix}${id}`)).toBe(data.byteLength);
    // readInto() across the part boundary, with an odd buffer size.
    const reader = await blobs.open(id);
    const got: Uint8Array[] = [];
    const target = new Uint8Array(3 * 1024 * 1024 + 7);
    for (let n = await reader.readInto(target); n > 0; n = await reader.readInto(target)) got.push(target.slice(0, n));
    await reader.close();
    expect(concat(got)).toEqual(data);
    expect(concat(await collect(blobs.read(id, 1024 * 1024)))).toEqual(data);
  });

  test("S3-2: abort() of a multipart upload never completes it and never touches a committed blob of the same id", async () => {
    const blobs = store();
    const id = randomId();
    const small = bytes(10);
    const first = await blobs.create(id);
    const second = await blobs.create(id);
    await first.write(small);
    await second.write(bytes(MIN_PART_SIZE + 100)); // one part sent: a multipart upload is open
    await first.commit();
    await expect(second.commit()).rejects.toThrow(/exists already/);
    await second.abort();
    const third = await blobs.create(randomId());
    await third.write(bytes(MIN_PART_SIZE * 2));
    await third.abort();
    Bun.gc(true);
    expect(concat(await collect(blobs.read(id)))).toEqual(small);
    expect((await rawClient().list({ prefix: blobs.prefix })).contents?.map((c) => c.key)).toEqual([`${blobs.prefix}${id}`]);
  });

  test("Bun's writer().end(error) completes the upload instead of aborting it (why abort() never calls it)", async () => {
    const client = rawClient();
    const key = `canary-${randomId()}`;
    const sink = client.file(key).writer({ partSize: MIN_PART_SIZE, retry: 0 });
    await sink.write(bytes(MIN_PART_SIZE + 5));
    let outcome: string;
    try {
      await sink.end(new Error("the source failed"));
      outcome = "resolved";
    } catch {
      outcome = "rejected";
    }
    // If this fails, Bun now aborts on end(error): S3BlobWriter.abort() may then use it.
    expect({ outcome, exists: await client.exists(key) }).toEqual({ outcome: "resolved", exists: true });
    await client.delete(key);
  });

  test("S3-3: sweep() removes orphans by age only, never one younger than minOrphanAgeMs", async () => {
    const cautious = store({ minOrphanAgeMs: 60 * 60 * 1000 });
    const kept = randomId();
    const orphan = randomId();
    const startedAt = Date.now();
    const keptData = bytes(10);
    await put(cautious, kept, keptData);
    await put(cautious, orphan, bytes(10));
    // The default store (one hour) keeps a fresh orphan, whatever the caller asks: another node may be about to commit its row.
    expect(await cautious.sweep(new Set([kept]))).toEqual([]);
    expect(await cautious.sweep(new Set([kept]), Date.now() + 60_000)).toEqual([]);
    const eager = new S3BlobStore({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, prefix: cautious.prefix, minOrphanAgeMs: 0 });
    // An object modified after the cut-off stays (LastModified has whole seconds: cut two seconds before the writes).
    expect(await eager.sweep(new Set([kept]), startedAt - 2000)).toEqual([]);
    expect(await eager.sweep(new Set([kept]), Date.now() + 1000)).toEqual([orphan]);
    expect(concat(await collect(eager.read(kept)))).toEqual(keptData);
    await expect(eager.open(orphan)).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("sweep() leaves keys under the prefix that are not blob ids alone", async () => {
    const blobs = store();
    await rawClient().write(`${blobs.prefix}README`, "not a blob");
    await rawClient().write(`${blobs.prefix}${"a".repeat(32)}.part`, "not a blob");
    expect(await blobs.sweep(new Set(), Date.now() + 1000)).toEqual([]);
  });

  test("the object store stopped mid-upload: commit fails with a clear error, nothing becomes visible, a later upload works", async () => {
    const blobs = store();
    const id = randomId();
    const w = await blobs.create(id);
    await w.write(bytes(MIN_PART_SIZE + 10)); // the first part is on the server
    await s3.stop();
    let error: unknown = null;
    try {
      await w.write(bytes(MIN_PART_SIZE));
      await w.commit();
    } catch (err) {
      error = err;
    }
    expect(String(error)).toMatch(new RegExp(`sis: cannot store blob ${id} \\(bucket ${s3.bucket} at ${s3.endpoint}\\): .+; check that the object store is running`));
    await expect(w.commit()).rejects.toBe(error);
    await w.abort();
    await s3.restart();
    await expect(blobs.open(id)).rejects.toMatchObject({ code: "ENOENT" });
    const again = randomId();
    const data = bytes(MIN_PART_SIZE + 20);
    await put(blobs, again, data);
    expect(concat(await collect(blobs.read(again)))).toEqual(data);
    expect(await blobs.sweep(new Set([again]), Date.now() + 1000)).toEqual([]);
  });

  test("a read while the store is down fails with a clear error, not ENOENT", async () => {
    const blobs = store();
    const id = randomId();
    const data = bytes(100);
    await put(blobs, id, data);
    await s3.stop();
    try {
      await expect(blobs.open(id)).rejects.toThrow(/sis: cannot read blob .*check that the object store is running/);
      await expect(blobs.open(id)).rejects.not.toMatchObject({ code: "ENOENT" });
    } finally {
      await s3.restart();
    }
    expect(concat(await collect(blobs.read(id)))).toEqual(data);
  });

  test("an unknown access key is refused with the store's reason", async () => {
    const blobs = store({ accessKeyId: "NOT-A-KEY" });
    const w = await blobs.create(randomId());
    await w.write(bytes(10));
    await expect(w.commit()).rejects.toThrow(/sis: cannot store blob .*check that the object store is running and reachable, and its credentials/);
  });

  test("a part size below S3's 5 MiB minimum is refused", () => {
    expect(() => store({ partSize: MIN_PART_SIZE - 1 })).toThrow(RangeError);
  });
});

test("an aborted multipart writer neither keeps the process alive nor crashes it", async () => {
  const script = `
    import { S3BlobStore, MIN_PART_SIZE } from ${JSON.stringify(join(import.meta.dir, "../../src/store/index.ts"))};
    const blobs = new S3BlobStore({ endpoint: ${JSON.stringify(s3.endpoint)}, bucket: ${JSON.stringify(s3.bucket)}, accessKeyId: "S3RVER", secretAccessKey: "S3RVER", prefix: "abandon/", partSize: MIN_PART_SIZE });
    const w = await blobs.create("${"d".repeat(32)}");
    await w.write(new Uint8Array(MIN_PART_SIZE + 1));
    await w.abort();
    Bun.gc(true);
    console.log(JSON.stringify(await blobs.sweep(new Set(), Date.now() + 1000)));
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ out: out.trim(), err, code }).toEqual({ out: "[]", err: "", code: 0 });
  expect(await rawClient().exists(`abandon/${"d".repeat(32)}`)).toBe(false);
});
