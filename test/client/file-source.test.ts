/** readChunks and readChunksReusing: the file's bytes in bounded chunks; the reusing reader refills two buffers. windowedReader: positioned reads. */
import { expect, test } from "bun:test";
import { randomFillSync } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readChunks, readChunksReusing, windowedReader } from "../../src/client/file-source.ts";
import { tempDir } from "../support/cli.ts";

const CHUNK = 4096;

function fileOf(dir: string, size: number): { path: string; bytes: Uint8Array } {
  const bytes = randomFillSync(new Uint8Array(size));
  const path = join(dir, `f-${size}`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

test("readChunksReusing() gives the file's bytes in chunks of at most chunkSize, for sizes around the chunk size", async () => {
  using dir = tempDir("sis-source-");
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17]) {
    const { path, bytes } = fileOf(dir, size);
    const parts: Buffer[] = [];
    for await (const chunk of readChunksReusing(path, CHUNK)) {
      expect(chunk.length).toBeGreaterThan(0);
      expect(chunk.length).toBeLessThanOrEqual(CHUNK);
      parts.push(Buffer.from(chunk)); // a copy: the chunk is refilled after the next pull
    }
    expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true);
  }
});

test("readChunksReusing() refills two buffers in turn, and readChunks() gives a fresh buffer each time", async () => {
  using dir = tempDir("sis-source-");
  const { path } = fileOf(dir, 6 * CHUNK);
  const reused = new Set<ArrayBufferLike>();
  for await (const chunk of readChunksReusing(path, CHUNK)) reused.add(chunk.buffer);
  expect(reused.size).toBe(2);
  const fresh = new Set<ArrayBufferLike>();
  for await (const chunk of readChunks(path, CHUNK)) fresh.add(chunk.buffer);
  expect(fresh.size).toBe(6);
});

test("readChunksReusing() stopped early closes the file, with a read ahead in flight", async () => {
  using dir = tempDir("sis-source-");
  const { path, bytes } = fileOf(dir, 8 * CHUNK);
  const open = () => readdirSync("/proc/self/fd").length;
  const before = open();
  for await (const chunk of readChunksReusing(path, CHUNK)) {
    expect(Buffer.from(chunk).equals(Buffer.from(bytes.subarray(0, CHUNK)))).toBe(true);
    break;
  }
  expect(open()).toBe(before);
  await expect(Array.fromAsync(readChunksReusing(join(dir, "missing"), CHUNK))).rejects.toThrow();
});

test("windowedReader() reads any range, across and beyond its 64 KiB window, shorter only at the end; its copies outlive the window", async () => {
  using dir = tempDir("sis-source-");
  const { path, bytes } = fileOf(dir, 200_000);
  const file = await windowedReader(path);
  try {
    const ranges: [number, number][] = [[0, 8], [8, 8], [65_530, 12], [65_536, 8], [70_000, 100_000], [199_995, 8], [200_000, 8], [300_000, 8], [10, 0]];
    const first = await file.readAt(0, 8);
    for (const [at, n] of ranges) {
      const got = await file.readAt(at, n);
      expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(at, at + n)))).toBe(true);
    }
    expect(Buffer.from(first).equals(Buffer.from(bytes.subarray(0, 8)))).toBe(true);
  } finally {
    await file.close();
  }
});
