/** The BlobStore contract (ports.ts): one suite every blob backend must pass. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { BlobStore } from "../../src/server/ports.ts";
import { bytes, collect, concat, randomId } from "./fixtures.ts";

export interface BlobHarness {
  blobs: BlobStore;
  cleanup(): void | Promise<void>;
  /**
   * False for a store where an unfinished write leaves nothing that sweep()
   * can list (S3: a write below one part is not sent before commit, and an
   * open multipart upload is not an object). Default true.
   */
  unfinishedWritesListed?: boolean;
}

export const BAD_IDS = ["../x", "ABC", "a".repeat(31), "a".repeat(33), "A".repeat(32), `${"a".repeat(15)}/${"a".repeat(16)}`, ""];

export function runBlobStoreContract(name: string, make: () => Promise<BlobHarness>): void {
  describe(`${name} (BlobStore contract)`, () => {
    let h: BlobHarness;
    let blobs: BlobStore;
    beforeEach(async () => {
      h = await make();
      blobs = h.blobs;
    });
    afterEach(async () => await h.cleanup());

    async function put(id: string, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
      const w = await blobs.create(id);
      for (let i = 0; i < data.byteLength; i += chunk) await w.write(data.subarray(i, i + chunk));
      await w.commit();
    }

    for (const size of [0, 1, 3 * 1024 * 1024]) {
      test(`a ${size}-byte blob reads back exactly as written`, async () => {
        const id = randomId();
        const data = bytes(size);
        await put(id, data);
        expect(concat(await collect(blobs.read(id)))).toEqual(data);
      });
    }

    test("writes of any size, small and larger than the buffer, keep their order", async () => {
      const id = randomId();
      const parts = [bytes(10), bytes(2 * 1024 * 1024 + 3), bytes(1), bytes(700 * 1024), bytes(700 * 1024)];
      const w = await blobs.create(id);
      for (const p of parts) await w.write(p);
      expect(w.bytesWritten).toBe(parts.reduce((n, p) => n + p.byteLength, 0));
      await w.commit();
      expect(concat(await collect(blobs.read(id)))).toEqual(concat(parts));
    });

    test("read() yields bounded chunks the consumer may keep", async () => {
      const id = randomId();
      const data = bytes(10_000);
      await put(id, data);
      const chunks = await collect(blobs.read(id, 3000));
      expect(chunks.map((c) => c.byteLength)).toEqual([3000, 3000, 3000, 1000]);
      expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
      expect(concat(chunks)).toEqual(data);
    });

    test("open() fills the caller's buffers in order, short only at the end, 0 after it", async () => {
      const id = randomId();
      const data = bytes(10_000);
      await put(id, data);
      const reader = await blobs.open(id);
      try {
        // One buffer, reused for every read: the reader keeps no reference to it.
        const target = new Uint8Array(4096);
        const got: Uint8Array[] = [];
        for (let n = await reader.readInto(target); n > 0; n = await reader.readInto(target)) got.push(target.slice(0, n));
        expect(got.map((c) => c.byteLength)).toEqual([4096, 4096, 1808]);
        expect(concat(got)).toEqual(data);
        expect(await reader.readInto(target)).toBe(0);
      } finally {
        await reader.close();
        await reader.close();
      }
    });

    test("open(id, from) reads exactly the bytes from `from` to the end (a ranged DOWNLOAD, P23a); at the end it reads 0; a negative from is refused", async () => {
      const id = randomId();
      // Past one S3 read window (4 MiB, S3-4), so a range that starts late spans two GETs.
      const data = bytes(5 * 1024 * 1024 + 17);
      await put(id, data, 1024 * 1024);
      const readAll = async (from: number) => {
        const reader = await blobs.open(id, from);
        const parts: Uint8Array[] = [];
        const buffer = new Uint8Array(300_000);
        for (let n; (n = await reader.readInto(buffer)) > 0;) parts.push(buffer.slice(0, n));
        await reader.close();
        return concat(parts);
      };
      for (const from of [0, 1, 262_144, 4 * 1024 * 1024 + 5, data.byteLength - 1]) {
        expect(await readAll(from)).toEqual(data.subarray(from));
      }
      expect((await readAll(data.byteLength)).byteLength).toBe(0);
      await expect(blobs.open(id, -1)).rejects.toThrow();
      await expect(blobs.open(id, 1.5)).rejects.toThrow();
    });

    test("open() of a missing or uncommitted blob rejects", async () => {
      await expect(blobs.open(randomId())).rejects.toThrow();
      const id = randomId();
      const w = await blobs.create(id);
      await w.write(bytes(10));
      await expect(blobs.open(id)).rejects.toThrow();
      await w.abort();
      for (const bad of BAD_IDS) await expect(blobs.open(bad)).rejects.toThrow();
    });

    test("a write's chunk may be reused by the caller once the write resolves", async () => {
      const id = randomId();
      const w = await blobs.create(id);
      const scratch = new Uint8Array([1, 2, 3]);
      await w.write(scratch);
      scratch.fill(9);
      await w.write(scratch);
      await w.commit();
      expect(concat(await collect(blobs.read(id)))).toEqual(new Uint8Array([1, 2, 3, 9, 9, 9]));
    });

    for (const bad of BAD_IDS) {
      test(`create(), read() and remove() refuse the id ${JSON.stringify(bad)}`, async () => {
        await expect(blobs.create(bad)).rejects.toThrow();
        await expect(collect(blobs.read(bad))).rejects.toThrow();
        await expect(blobs.remove(bad)).rejects.toThrow();
      });
    }

    test("a blob being written is invisible to read() until commit", async () => {
      const id = randomId();
      const w = await blobs.create(id);
      await w.write(bytes(5000));
      await expect(collect(blobs.read(id))).rejects.toThrow();
      await w.commit();
      expect(concat(await collect(blobs.read(id))).byteLength).toBe(5000);
    });

    test("abort() leaves nothing behind and may be called twice", async () => {
      const id = randomId();
      const w = await blobs.create(id);
      await w.write(bytes(100));
      await w.abort();
      await w.abort();
      await expect(collect(blobs.read(id))).rejects.toThrow();
      expect(await blobs.sweep(new Set())).toEqual([]);
    });

    test("abort() after commit keeps the committed blob", async () => {
      const id = randomId();
      const w = await blobs.create(id);
      await w.write(new Uint8Array([7]));
      await w.commit();
      await w.abort();
      expect(concat(await collect(blobs.read(id)))).toEqual(new Uint8Array([7]));
    });

    test("write() and commit() after commit are refused", async () => {
      const w = await blobs.create(randomId());
      await w.commit();
      await expect(w.write(new Uint8Array([1]))).rejects.toThrow();
      await expect(w.commit()).rejects.toThrow();
    });

    test("commit() refuses to overwrite an existing blob and abort() then cleans up", async () => {
      const id = randomId();
      const first = await blobs.create(id);
      const second = await blobs.create(id);
      await first.write(new Uint8Array([1]));
      await second.write(new Uint8Array([2]));
      await first.commit();
      await expect(second.commit()).rejects.toThrow(/exists/);
      await second.abort();
      expect(concat(await collect(blobs.read(id)))).toEqual(new Uint8Array([1]));
      expect(await blobs.sweep(new Set([id]))).toEqual([]);
    });

    test("remove() deletes a blob and ignores one that is missing", async () => {
      const id = randomId();
      await put(id, bytes(10));
      await blobs.remove(id);
      await blobs.remove(id);
      await expect(collect(blobs.read(id))).rejects.toThrow();
    });

    test("sweep() removes unfinished writes and orphans but keeps listed blobs", async () => {
      const kept = randomId();
      const orphan = randomId();
      await put(kept, bytes(10));
      await put(orphan, bytes(10));
      const unfinished = await blobs.create(randomId());
      await unfinished.write(bytes(10)); // as if the server died mid-upload
      const removed = await blobs.sweep(new Set([kept]));
      expect(removed).toContain(orphan);
      expect(removed).not.toContain(kept);
      expect(removed).toHaveLength(h.unfinishedWritesListed === false ? 1 : 2);
      expect(concat(await collect(blobs.read(kept))).byteLength).toBe(10);
      await expect(collect(blobs.read(orphan))).rejects.toThrow();
      expect(await blobs.sweep(new Set([kept]))).toEqual([]);
      await unfinished.abort(); // its file is gone already; abort must still succeed
    });
  });
}
