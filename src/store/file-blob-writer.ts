/** FileBlobWriter: appends to one exclusive temporary file and commits it durably under its final name. */
import { link, rename, stat, unlink } from "node:fs/promises";
import type { BlobWriter } from "../server/ports.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import type { RawFile } from "./raw-file.ts";

/** Small writes are coalesced up to this size, so memory per upload stays bounded. */
export const WRITE_BUFFER_SIZE = 1024 * 1024;
/**
 * While an upload arrives, an fdatasync starts in the background every this
 * many bytes, so the fsync that commit() must wait for (before POSTED, P21)
 * finds little left to write.
 */
export const SYNC_AHEAD_BYTES = 8 * 1024 * 1024;

type State = "open" | "committed" | "aborted" | "failed";

export class FileBlobWriter implements BlobWriter {
  #handle: RawFile | null;
  #state: State = "open";
  #busy = false;
  #buffer = new Uint8Array(WRITE_BUFFER_SIZE);
  #buffered = 0;
  #written = 0;
  #unsynced = 0;
  /** The background fdatasync in flight; the descriptor must not be closed under it. */
  #syncing: Promise<void> | null = null;
  /**
   * A failed background sync. It fails the upload: after an fsync error Linux
   * may have dropped the dirty pages and reports the error only once per
   * descriptor, so commit()'s own fsync could succeed over lost data.
   */
  #syncError: unknown = null;

  constructor(
    handle: RawFile,
    private readonly tmpPath: string,
    private readonly finalPath: string,
    private readonly dir: string,
  ) {
    this.#handle = handle;
  }

  /** Bytes accepted by write() so far. */
  get bytesWritten(): number {
    return this.#written;
  }

  /** Calls must not overlap: await each write before the next. The chunk is not retained after it resolves. */
  async write(chunk: Uint8Array): Promise<void> {
    const handle = this.#enter("write");
    try {
      if (this.#syncError !== null) throw this.#syncError;
      if (this.#buffered + chunk.byteLength > WRITE_BUFFER_SIZE) await this.#flush(handle);
      if (chunk.byteLength >= WRITE_BUFFER_SIZE) {
        await handle.writeAll(chunk);
        this.#syncAhead(handle, chunk.byteLength);
      } else {
        this.#buffer.set(chunk, this.#buffered);
        this.#buffered += chunk.byteLength;
      }
      this.#written += chunk.byteLength;
    } catch (err) {
      if (this.#state === "open") this.#state = "failed"; // an abort() meanwhile stays an abort
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  async commit(): Promise<void> {
    const handle = this.#enter("commit");
    try {
      await this.#flush(handle);
      // No write uses the buffer any more: freed now (detached), not at some later collection.
      const spent = this.#buffer.buffer;
      this.#buffer = new Uint8Array(0);
      if (spent instanceof ArrayBuffer) spent.transfer(0);
      await this.#syncing;
      if (this.#syncError !== null) throw this.#syncError;
      // The durable point: the data must be on disk before the name points at it.
      // The background syncs only shorten this one; it must succeed itself.
      await handle.sync();
      this.#handle = null;
      await handle.close();
      await placeWithoutOverwrite(this.tmpPath, this.finalPath);
      // The new directory entry must be on disk before the caller acknowledges.
      await fsyncDir(this.dir);
      this.#state = "committed";
    } catch (err) {
      if (this.#state === "open") this.#state = "failed"; // an abort() meanwhile stays an abort
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  async abort(): Promise<void> {
    if (this.#state === "committed" || this.#state === "aborted") return;
    this.#state = "aborted";
    const handle = this.#handle;
    this.#handle = null;
    this.#buffer = new Uint8Array(0);
    await this.#syncing;
    if (handle) await handle.close().catch(() => {});
    try {
      await unlink(this.tmpPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  #enter(what: string): RawFile {
    if (this.#busy) throw new Error(`blob ${what} while another write or commit is in progress`);
    if (this.#state !== "open" || !this.#handle) throw new Error(`blob ${what} after the writer was ${this.#state}`);
    this.#busy = true;
    return this.#handle;
  }

  async #flush(handle: RawFile): Promise<void> {
    if (this.#buffered === 0) return;
    await handle.writeAll(this.#buffer.subarray(0, this.#buffered));
    this.#syncAhead(handle, this.#buffered);
    this.#buffered = 0;
  }

  /** Starts an fdatasync every SYNC_AHEAD_BYTES, never two at once; its outcome is kept, not thrown here. */
  #syncAhead(handle: RawFile, bytes: number): void {
    this.#unsynced += bytes;
    if (this.#unsynced < SYNC_AHEAD_BYTES || this.#syncing !== null) return;
    this.#unsynced = 0;
    this.#syncing = handle.datasync().then(
      () => {
        this.#syncing = null;
      },
      (err: unknown) => {
        this.#syncing = null;
        this.#syncError ??= err;
      },
    );
  }
}

/**
 * rename() would silently replace an existing blob; link() fails with EEXIST
 * instead, atomically, so a committed blob is never overwritten. Where hard
 * links are unsupported, fall back to check-then-rename (ids are random, so
 * the window only matters for a caller bug).
 */
async function placeWithoutOverwrite(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new Error("blob already exists; refusing to overwrite it", { cause: err });
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EXDEV") throw err;
    const exists = await stat(to).then(() => true, () => false);
    if (exists) throw new Error("blob already exists; refusing to overwrite it");
    await rename(from, to);
    return;
  }
  await unlink(from);
}
