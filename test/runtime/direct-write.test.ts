/**
 * Direct writes (src/runtime/direct-write.ts) through their two users, the server's blob writer and
 * the watcher's OutputFile: every length round-trips byte for byte, the written file is not in the
 * page cache (util-linux fincore judges), on the disk and on tmpfs (direct since Linux 6.6, buffered
 * before: exact either way).
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { OutputFile } from "../../src/client/output-file.ts";
import { createImageDigest } from "../../src/crypto/index.ts";
import { alignedBuffer, createForWrite, DIRECT_ALIGN, FILE_HANDLE } from "../../src/runtime/direct-write.ts";
import { FileBlobStore } from "../../src/store/file-blob-store.ts";
import { RAW_FILE } from "../../src/store/raw-file.ts";
import { ptr } from "bun:ffi";
import { tempDir } from "../support/cli.ts";
import { residentPages } from "../support/fincore.ts";

const MiB = 1024 * 1024;
/** Lengths around every boundary a direct write has: the block, the write buffer, none at all. */
const SIZES = [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 3, 3 * MiB + 17];

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Pieces of the sizes a session hands the blob writer (a data frame's payload), and odd ones. */
function* pieces(data: Uint8Array): Generator<Uint8Array> {
  const steps = [65_552, 1, 262_144, 7];
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = Math.min(steps[k % steps.length]!, data.length - at);
    yield data.subarray(at, at + n);
    at += n;
  }
}

/** File systems that take O_DIRECT on every kernel sis runs on: there a direct write is expected, not merely allowed. */
const DIRECT_FS = new Set(["ext2/ext3", "xfs", "btrfs"]);
function fsType(dir: string): string {
  return Bun.spawnSync(["stat", "-f", "-c", "%T", dir]).stdout.toString().trim();
}

/** A fresh directory on /dev/shm (tmpfs: O_DIRECT since Linux 6.6, buffered before). */
function shmDir(): string & Disposable {
  const path = mkdtempSync("/dev/shm/sis-direct-");
  return Object.assign(path, { [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) });
}

describe("direct writes", () => {
  test("alignedBuffer() starts at a multiple of DIRECT_ALIGN", () => {
    for (let i = 0; i < 8; i++) expect(Number(ptr(alignedBuffer(DIRECT_ALIGN * (i + 1)))) % DIRECT_ALIGN).toBe(0);
  });

  test("createForWrite() is direct on the disk the tests run on (ext4, XFS, Btrfs), and refuses a file that exists", async () => {
    using disk = tempDir("sis-direct-");
    expect(DIRECT_FS.has(fsType(disk))).toBe(true);
    const { file, direct } = await createForWrite(FILE_HANDLE, join(disk, "f"), 0o600);
    await file.close();
    expect(direct).toBe(true);
    expect(createForWrite(FILE_HANDLE, join(disk, "f"), 0o600)).rejects.toMatchObject({ code: "EEXIST" });
  });

  for (const where of ["disk", "tmpfs"] as const) {
    test(`a committed blob holds exactly what was written, for every length (${where})`, async () => {
      using dir = where === "disk" ? tempDir("sis-direct-blobs-") : shmDir();
      const store = await FileBlobStore.open(join(dir, "blobs"));
      for (const [k, size] of SIZES.entries()) {
        const id = k.toString(16).padStart(32, "0");
        const data = bytes(size, k);
        const w = await store.create(id);
        for (const piece of pieces(data)) await w.write(piece);
        await w.commit();
        const path = join(dir, "blobs", id);
        // Written around the cache on disk: nothing of it is resident until it is read.
        if (where === "disk") expect({ size, cached: residentPages(path) }).toEqual({ size, cached: 0 });
        expect({ size, same: Buffer.compare(readFileSync(path), data) === 0 }).toEqual({ size, same: true });
      }
    });

    test(`a saved image is exactly what was written, for every length (${where})`, async () => {
      using out = where === "disk" ? tempDir("sis-direct-out-") : shmDir();
      for (const [k, size] of SIZES.entries()) {
        const data = bytes(size, k + 100);
        const file = await OutputFile.create(out, "alice", `${k}.png`);
        for (const piece of pieces(data)) await file.write(piece);
        const d = createImageDigest();
        d.update(data);
        const { path } = await file.commit(new Uint8Array([1, 2, 3]), d.digest());
        if (where === "disk") expect({ size, cached: residentPages(path) }).toEqual({ size, cached: 0 });
        expect({ size, same: Buffer.compare(readFileSync(path), data) === 0 }).toEqual({ size, same: true });
      }
    });
  }

  test("an aborted blob leaves nothing, and the next one is still exact", async () => {
    using dir = tempDir("sis-direct-abort-");
    const store = await FileBlobStore.open(join(dir, "blobs"));
    const w = await store.create("a".repeat(32));
    await w.write(bytes(MiB + 5, 1));
    await w.abort();
    const data = bytes(2 * MiB + 9, 2);
    const w2 = await store.create("b".repeat(32));
    for (const piece of pieces(data)) await w2.write(piece);
    await w2.commit();
    expect(Buffer.compare(readFileSync(join(dir, "blobs", "b".repeat(32))), data)).toBe(0);
    expect(() => readFileSync(join(dir, "blobs", "a".repeat(32)))).toThrow(/ENOENT/);
  });

  test("a file system that opens O_DIRECT but refuses the aligned write (as some FUSE ones do) gets a buffered, empty file", async () => {
    using dir = tempDir("sis-direct-refused-");
    const { constants } = await import("node:fs");
    const directFiles = new WeakSet<object>();
    // The real file handle, but a direct one's writes fail as such a file system fails them.
    const refusing: typeof FILE_HANDLE = {
      ...FILE_HANDLE,
      open: async (path, flags, mode) => {
        const file = await FILE_HANDLE.open(path, flags, mode);
        if (flags & constants.O_DIRECT) directFiles.add(file);
        return file;
      },
      writeAt: (file, bytes, position) => (directFiles.has(file) ? Promise.reject(Object.assign(new Error("EINVAL"), { code: "EINVAL" })) : FILE_HANDLE.writeAt(file, bytes, position)),
    };
    const { file, direct } = await createForWrite(refusing, join(dir, "f"), 0o600);
    expect(direct).toBe(false);
    await refusing.writeAt(file, bytes(10, 3), 0);
    await file.close();
    expect(Buffer.compare(readFileSync(join(dir, "f")), bytes(10, 3))).toBe(0);
  });

  test("RAW_FILE and FILE_HANDLE write at the position given", async () => {
    using dir = tempDir("sis-direct-at-");
    const { file } = await createForWrite(RAW_FILE, join(dir, "r"), 0o600);
    const block = alignedBuffer(DIRECT_ALIGN).fill(9);
    await RAW_FILE.writeAt(file, block, DIRECT_ALIGN);
    await RAW_FILE.truncate(file, DIRECT_ALIGN + 10);
    await file.close();
    const back = readFileSync(join(dir, "r"));
    expect(back.length).toBe(DIRECT_ALIGN + 10);
    expect([back[0], back[DIRECT_ALIGN - 1], back[DIRECT_ALIGN], back[DIRECT_ALIGN + 9]]).toEqual([0, 0, 9, 9]);
  });
});
