/** FileBlobWriter's background syncs: they shorten commit()'s fsync, never replace it, and a failed one fails the upload. */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FileBlobWriter, SYNC_AHEAD_BYTES, WRITE_BUFFER_SIZE } from "../../src/store/file-blob-writer.ts";
import type { RawFile } from "../../src/store/raw-file.ts";
import { tempDir } from "./fixtures.ts";

/** A stand-in descriptor that records the order of operations; datasync can be made to fail or to hang until released. */
function fakeFile(opts: { failDatasync?: boolean } = {}) {
  const log: string[] = [];
  const pending: (() => void)[] = [];
  const file = {
    async writeAt(data: Uint8Array) {
      log.push(`write ${data.byteLength}`);
    },
    async truncate(length: number) {
      log.push(`truncate ${length}`);
    },
    datasync() {
      log.push("datasync start");
      return new Promise<void>((resolve, reject) =>
        pending.push(() => {
          log.push("datasync end");
          if (opts.failDatasync) reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
          else resolve();
        }),
      );
    },
    async sync() {
      log.push("fsync");
    },
    async close() {
      log.push("close");
    },
  };
  return { file: file as unknown as RawFile, log, release: () => pending.splice(0).forEach((p) => p()) };
}

const chunk = new Uint8Array(WRITE_BUFFER_SIZE);

describe("FileBlobWriter background sync", () => {
  test("starts an fdatasync every SYNC_AHEAD_BYTES while data arrives, never two at once", async () => {
    using dir = tempDir();
    const f = fakeFile();
    const w = new FileBlobWriter(f.file, join(dir.path, "t"), join(dir.path, "f"), dir.path);
    for (let i = 0; i < (3 * SYNC_AHEAD_BYTES) / WRITE_BUFFER_SIZE; i++) await w.write(chunk);
    // The first is still running: no second one was started beside it.
    expect(f.log.filter((l) => l === "datasync start").length).toBe(1);
    f.release();
    await Bun.sleep(0);
    await w.write(chunk);
    expect(f.log.filter((l) => l === "datasync start").length).toBe(2);
    f.release();
    await w.abort();
  });

  test("commit() waits for the background sync, then fsyncs itself before close and link", async () => {
    using dir = tempDir();
    const f = fakeFile();
    const tmp = join(dir.path, "t");
    await Bun.write(tmp, "x");
    const w = new FileBlobWriter(f.file, tmp, join(dir.path, "f"), dir.path);
    for (let i = 0; i < SYNC_AHEAD_BYTES / WRITE_BUFFER_SIZE; i++) await w.write(chunk);
    const committing = w.commit();
    await Bun.sleep(5);
    expect(f.log).not.toContain("fsync");
    f.release();
    await committing;
    expect(f.log.slice(-3)).toEqual(["datasync end", "fsync", "close"]);
    expect(existsSync(join(dir.path, "f"))).toBe(true);
  });

  test("a failed background sync fails the next write and the commit: nothing is placed", async () => {
    using dir = tempDir();
    const f = fakeFile({ failDatasync: true });
    const tmp = join(dir.path, "t");
    await Bun.write(tmp, "x");
    const w = new FileBlobWriter(f.file, tmp, join(dir.path, "f"), dir.path);
    for (let i = 0; i < SYNC_AHEAD_BYTES / WRITE_BUFFER_SIZE; i++) await w.write(chunk);
    f.release();
    await Bun.sleep(0);
    await expect(w.write(chunk)).rejects.toThrow("EIO");
    await expect(w.commit()).rejects.toThrow();
    expect(existsSync(join(dir.path, "f"))).toBe(false);
    await w.abort();
    expect(existsSync(tmp)).toBe(false);
  });

  test("abort() does not close the descriptor under a running sync", async () => {
    using dir = tempDir();
    const f = fakeFile();
    const w = new FileBlobWriter(f.file, join(dir.path, "t"), join(dir.path, "f"), dir.path);
    for (let i = 0; i < SYNC_AHEAD_BYTES / WRITE_BUFFER_SIZE; i++) await w.write(chunk);
    const aborting = w.abort();
    await Bun.sleep(5);
    expect(f.log).not.toContain("close");
    f.release();
    await aborting;
    expect(f.log.slice(-2)).toEqual(["datasync end", "close"]);
  });

  test("a failed sync while commit() waits for it fails the commit", async () => {
    using dir = tempDir();
    const f = fakeFile({ failDatasync: true });
    const tmp = join(dir.path, "t");
    await Bun.write(tmp, "x");
    const w = new FileBlobWriter(f.file, tmp, join(dir.path, "f"), dir.path);
    for (let i = 0; i < SYNC_AHEAD_BYTES / WRITE_BUFFER_SIZE; i++) await w.write(chunk);
    const committing = w.commit();
    f.release();
    await expect(committing).rejects.toThrow("EIO");
    expect(f.log).not.toContain("fsync");
    expect(existsSync(join(dir.path, "f"))).toBe(false);
  });
});
