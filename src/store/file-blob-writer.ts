/** FileBlobWriter: appends to one exclusive temporary file and commits it durably under its final name. */
import { link, rename, stat, unlink } from "node:fs/promises";
import type { BlobWriter } from "../server/ports.ts";
import { alignedBuffer, alignUp } from "../runtime/direct-write.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import type { RawFile } from "./raw-file.ts";

/** Writes are gathered into pieces of this size (aligned for a direct write), so memory per upload stays bounded. */
export const WRITE_BUFFER_SIZE = 1024 * 1024;
/**
 * While an upload arrives, an fdatasync starts in the background every this
 * many bytes, so the fsync that commit() must wait for (before POSTED, P21)
 * finds little left to write.
 */
export const SYNC_AHEAD_BYTES = 8 * 1024 * 1024;

type State = "open" | "committed" | "aborted" | "failed";

/**
 * Write buffers of finished blobs, for the next upload of any session (at most SPARE_MAX, 1 MiB
 * each, aligned for direct writes): a buffer goes back only once no write uses it.
 */
const SPARE_MAX = 4;
const spare: Uint8Array[] = [];
const EMPTY: Uint8Array = new Uint8Array(0);

export class FileBlobWriter implements BlobWriter {
  #handle: RawFile | null;
  #state: State = "open";
  #busy = false;
  /** Taken from `spare` at the first write; EMPTY until then and once it went back. */
  #buffer: Uint8Array = EMPTY;
  #buffered = 0;
  /** Bytes accepted by write(); of them, the ones in the file (the rest are in #buffer). */
  #written = 0;
  #flushed = 0;
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
    /** Written around the page cache (src/runtime/direct-write.ts): the blob's pages are not kept after its upload. */
    private readonly direct = false,
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
      for (let at = 0; at < chunk.byteLength; ) {
        if (this.#buffer === EMPTY) this.#buffer = spare.pop() ?? alignedBuffer(WRITE_BUFFER_SIZE);
        const take = Math.min(WRITE_BUFFER_SIZE - this.#buffered, chunk.byteLength - at);
        this.#buffer.set(chunk.subarray(at, at + take), this.#buffered);
        this.#buffered += take;
        at += take;
        if (this.#buffered === WRITE_BUFFER_SIZE) await this.#flush(handle);
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
      this.#giveBuffer();
      await this.#syncing;
      if (this.#syncError !== null) throw this.#syncError;
      // The last direct write's zero padding (and the probe's block of a blob shorter than it) goes.
      if (this.direct) await handle.truncate(this.#written);
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
    // A write may still be in flight (a session that ended mid-upload): its buffer is then left to the collector.
    if (!this.#busy) this.#giveBuffer();
    else this.#buffer = EMPTY;
    await this.#syncing;
    if (handle) await handle.close().catch(() => {});
    try {
      await unlink(this.tmpPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** No write uses the buffer any more: kept for the next blob (up to SPARE_MAX), or left to the collector. */
  #giveBuffer(): void {
    const spent = this.#buffer;
    this.#buffer = EMPTY;
    this.#buffered = 0;
    if (spent !== EMPTY && spare.length < SPARE_MAX) spare.push(spent);
  }

  #enter(what: string): RawFile {
    if (this.#busy) throw new Error(`blob ${what} while another write or commit is in progress`);
    if (this.#state !== "open" || !this.#handle) throw new Error(`blob ${what} after the writer was ${this.#state}`);
    this.#busy = true;
    return this.#handle;
  }

  async #flush(handle: RawFile): Promise<void> {
    if (this.#buffered === 0) return;
    // A direct write is whole blocks: a short last piece is padded with zeros, cut off by commit().
    const length = this.direct ? alignUp(this.#buffered) : this.#buffered;
    this.#buffer.fill(0, this.#buffered, length);
    await handle.writeAt(this.#buffer.subarray(0, length), this.#flushed);
    this.#flushed += this.#buffered;
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
