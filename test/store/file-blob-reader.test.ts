/** FileBlobReader: page-cache reads on the event loop, the thread pool after a slow one, a pause after each burst. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileBlobReader, SYNC_BURST } from "../../src/store/file-blob-reader.ts";
import { RawFile } from "../../src/store/raw-file.ts";
import { bytes, tempDir } from "./fixtures.ts";

const MiB = 1024 * 1024;

/** A real file of `size` bytes, opened as RawFile, with its reads counted by kind. */
async function counted(dir: string, size: number) {
  const path = join(dir, "blob");
  const content = bytes(size);
  writeFileSync(path, content);
  const raw = await RawFile.open(path, "r");
  const calls = { sync: 0, async: 0 };
  const file = {
    read: (b: Uint8Array, p: number | null) => (calls.async++, raw.read(b, p)),
    readSync: (b: Uint8Array, p: number) => (calls.sync++, raw.readSync(b, p)),
    close: () => raw.close(),
  };
  return { content, file, calls };
}

async function readAll(reader: FileBlobReader, chunk: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const target = new Uint8Array(chunk);
  for (let n; (n = await reader.readInto(target)) > 0;) parts.push(target.slice(0, n));
  expect(await reader.readInto(target)).toBe(0);
  return Buffer.concat(parts);
}

describe("FileBlobReader", () => {
  test("fast reads stay on the event loop and return the file exactly, from any offset", async () => {
    using dir = tempDir();
    const { content, file, calls } = await counted(dir.path, 3 * MiB + 123);
    const reader = new FileBlobReader(file, 0, { now: () => 0 });
    expect(Buffer.compare(await readAll(reader, 256 * 1024), content)).toBe(0);
    expect(reader.synchronous).toBe(true);
    expect(calls.async).toBe(0);
    expect(calls.sync).toBeGreaterThan(12);
    const from = 1_000_001;
    const ranged = new FileBlobReader(file, from, { now: () => 0 });
    expect(Buffer.compare(await readAll(ranged, 100_000), content.subarray(from))).toBe(0);
    await reader.close();
  });

  test("a read slower than slowReadMs sends the rest of the download to the thread pool, with the same bytes", async () => {
    using dir = tempDir();
    const { content, file, calls } = await counted(dir.path, 2 * MiB + 7);
    let clock = 0;
    // The clock moves 2.5 ms at each look, so every synchronous read appears to take 2.5 ms: the first one waited for the disk.
    const reader = new FileBlobReader(file, 0, { slowReadMs: 1, now: () => (clock += 2.5) });
    expect(Buffer.compare(await readAll(reader, 256 * 1024), content)).toBe(0);
    expect(reader.synchronous).toBe(false);
    expect(calls.sync).toBe(1);
    expect(calls.async).toBeGreaterThan(8);
    await reader.close();
  });

  test("after each burst of synchronous reads the event loop runs once", async () => {
    using dir = tempDir();
    const size = 4 * MiB;
    const { file } = await counted(dir.path, size);
    const chunk = 256 * 1024;
    const readsBeforeTurn = async (syncBurst: number) => {
      const reader = new FileBlobReader(file, 0, { now: () => 0, syncBurst });
      let turned = false;
      setImmediate(() => (turned = true));
      const target = new Uint8Array(chunk);
      let reads = 0;
      while (!turned && (await reader.readInto(target)) > 0) reads++;
      return reads;
    };
    // Without the pause, the whole file is read before anything else runs: the test can tell.
    expect(await readsBeforeTurn(Number.POSITIVE_INFINITY)).toBe(size / chunk);
    expect(await readsBeforeTurn(SYNC_BURST)).toBe(SYNC_BURST / chunk);
    await file.close();
  });
});
