/** dropCache(): a written and fsynced file's pages leave the page cache, as fincore sees them; its bytes stay on disk. */
import { expect, test } from "bun:test";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { dropCache } from "../../src/runtime/drop-cache.ts";
import { tempDir } from "../support/cli.ts";
import { residentPages } from "../support/fincore.ts";

test("after its fsync a file's pages are dropped from the cache, and it reads back the same", () => {
  using dir = tempDir("sis-drop-cache-");
  const path = join(dir, "written");
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  const fd = openSync(path, "w");
  try {
    for (let i = 0; i < 64; i++) writeSync(fd, bytes);
    fsyncSync(fd);
    expect(residentPages(path)).toBe(1024); // 4 MiB just written: all of it cached
    expect(dropCache(fd)).toBe(true);
    expect(residentPages(path)).toBe(0);
  } finally {
    closeSync(fd);
  }
  const back = readFileSync(path);
  expect(back.length).toBe(64 * 65536);
  expect(Buffer.compare(back.subarray(63 * 65536), bytes)).toBe(0);
});

test("a file descriptor that is not open is refused (false), not thrown", () => {
  expect(dropCache(1 << 30)).toBe(false);
});
