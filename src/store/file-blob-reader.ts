/**
 * A committed blob's positioned reads for a download (BlobReader): synchronous while they come
 * from the page cache, through the thread pool once one had to wait for the disk.
 *
 * Why: 50 downloads of one 10 MiB image cost the server 253–387 ms of CPU with every 256 KiB read
 * on the thread pool, 214–258 ms with the reads made on the event loop (bench/README.md,
 * "Issue 17: the download's reads"). A read from the page cache is a copy of 0.03 ms; a
 * thread-pool read adds the wake-ups and the copy on the other core. A read from the disk may take
 * milliseconds, which the event loop must not wait for: a read slower than SLOW_READ_MS makes
 * the rest of that download asynchronous. After SYNC_BURST bytes read in a row without a pause,
 * the reader yields to the event loop once, so a download whose socket keeps taking data does not
 * hold up the other connections.
 */
import type { BlobReader } from "../server/ports.ts";
import type { RawFile } from "./raw-file.ts";

/** A synchronous read slower than this waited for the disk, not the page cache. */
export const SLOW_READ_MS = 1;
/** Bytes read synchronously before the reader lets the event loop run once. */
export const SYNC_BURST = 1024 * 1024;

export interface FileBlobReaderOptions {
  slowReadMs?: number;
  syncBurst?: number;
  /** Milliseconds, monotonic: the reads' stopwatch. */
  now?: () => number;
}

/** What the reader needs of a file: src/store/raw-file.ts' RawFile. */
type PositionedFile = Pick<RawFile, "read" | "readSync" | "close">;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Reads `file` from byte `from` on; `synchronous` says whether the next read is made on the event loop. */
export class FileBlobReader implements BlobReader {
  private position: number;
  private sync = true;
  private burst = 0;
  private readonly slowReadMs: number;
  private readonly syncBurst: number;
  private readonly now: () => number;

  constructor(private readonly file: PositionedFile, from: number, options: FileBlobReaderOptions = {}) {
    this.position = from;
    this.slowReadMs = options.slowReadMs ?? SLOW_READ_MS;
    this.syncBurst = options.syncBurst ?? SYNC_BURST;
    this.now = options.now ?? (() => performance.now());
  }

  get synchronous(): boolean {
    return this.sync;
  }

  async readInto(target: Uint8Array): Promise<number> {
    let filled = 0;
    // A regular file reads short only at its end; loop anyway, as read(2) allows it.
    while (filled < target.byteLength) {
      const into = filled === 0 ? target : target.subarray(filled);
      const n = this.sync ? this.readNow(into) : await this.file.read(into, this.position);
      if (n === 0) break;
      filled += n;
      this.position += n;
    }
    if (this.burst >= this.syncBurst) {
      this.burst = 0;
      await nextTurn();
    }
    return filled;
  }

  close(): Promise<void> {
    return this.file.close();
  }

  private readNow(into: Uint8Array): number {
    const started = this.now();
    const n = this.file.readSync(into, this.position);
    if (this.now() - started > this.slowReadMs) this.sync = false;
    this.burst += n;
    return n;
  }
}
