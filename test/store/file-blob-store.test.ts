/** FileBlobStore: the shared BlobStore contract, then what only files have (paths, modes, tmp/). */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileBlobStore } from "../../src/store/index.ts";
import { runBlobStoreContract } from "./blob-store-contract.ts";
import { bytes, collect, randomId, tempDir } from "./fixtures.ts";

runBlobStoreContract("FileBlobStore", async () => {
  const dir = tempDir();
  return { blobs: await FileBlobStore.open(join(dir.path, "blobs")), cleanup: () => dir[Symbol.dispose]() };
});

describe("FileBlobStore on disk", () => {
  test("open() creates the directory and tmp/ readable by the owner only", async () => {
    using dir = tempDir();
    const root = join(dir.path, "a", "blobs");
    await FileBlobStore.open(root);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, "tmp")).mode & 0o777).toBe(0o700);
  });

  test("a blob is written under tmp/ and committed as <dir>/<id> with mode 0600", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    const id = randomId();
    const w = await blobs.create(id);
    await w.write(bytes(10));
    const [tmpName] = readdirSync(join(dir.path, "tmp"));
    expect(tmpName).toStartWith(`${id}.`);
    expect(statSync(join(dir.path, "tmp", tmpName!)).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir.path, id))).toBe(false);
    await w.commit();
    expect(readdirSync(join(dir.path, "tmp"))).toEqual([]);
    expect(statSync(join(dir.path, id)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.path, id)).size).toBe(10);
  });

  test("abort() removes the temporary file", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    const w = await blobs.create(randomId());
    await w.write(bytes(2 * 1024 * 1024));
    await w.abort();
    expect(readdirSync(dir.path)).toEqual(["tmp"]);
    expect(readdirSync(join(dir.path, "tmp"))).toEqual([]);
  });

  test("sweep() reports removed temporary files as tmp/<name> and leaves foreign files alone", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    writeFileSync(join(dir.path, "tmp", "leftover"), "x");
    writeFileSync(join(dir.path, "README"), "not a blob");
    expect(await blobs.sweep(new Set())).toEqual(["tmp/leftover"]);
    expect(readdirSync(dir.path).sort()).toEqual(["README", "tmp"]);
  });

  test("read() refuses a chunk size that is not a positive bounded integer", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    const id = randomId();
    await (await blobs.create(id)).commit();
    for (const size of [0, -1, 1.5, Number.NaN, 64 * 1024 * 1024]) {
      await expect(collect(blobs.read(id, size))).rejects.toThrow(RangeError);
    }
  });

  test("read() of a missing blob fails with ENOENT", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    await expect(collect(blobs.read(randomId()))).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("overlapping writes on one writer are refused", async () => {
    using dir = tempDir();
    const blobs = await FileBlobStore.open(dir.path);
    const w = await blobs.create(randomId());
    const big = w.write(bytes(2 * 1024 * 1024));
    await expect(w.write(bytes(1))).rejects.toThrow(/in progress/);
    await big;
    await w.abort();
  });
});

test("an abandoned writer or half-read blob neither crashes the process nor leaks its descriptor", async () => {
  using dir = tempDir();
  const script = `
    import { readdirSync } from "node:fs";
    import { FileBlobStore } from ${JSON.stringify(join(import.meta.dir, "../../src/store/index.ts"))};
    const fds = () => readdirSync("/proc/self/fd").length;
    const blobs = await FileBlobStore.open(${JSON.stringify(dir.path)});
    const id = "${"b".repeat(32)}";
    const w = await blobs.create(id);
    await w.write(new Uint8Array(10));
    await w.commit();
    const base = fds();
    async function abandon() {
      const writer = await blobs.create("${"c".repeat(32)}");
      await writer.write(new Uint8Array(10));
      const reader = blobs.read(id, 1)[Symbol.asyncIterator]();
      await reader.next();
    }
    await abandon();
    const opened = fds() - base;
    for (let i = 0; i < 50 && fds() > base; i++) { Bun.gc(true); await Bun.sleep(10); }
    console.log(JSON.stringify({ opened, leaked: fds() - base }));
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited,
  ]);
  expect({ out: JSON.parse(out), err, code }).toEqual({ out: { opened: 2, leaked: 0 }, err: "", code: 0 });
});
