/** One node (SQLite): new images in process, deletions read from the store's deletion log (ports.ts ST12), so `sis admin rm` reaches the watchers too. */
import { MemoryNotifier } from "./memory-notifier.ts";
import type { DeletionEvent, ImageEvent, Notifier, Store } from "./ports.ts";

export interface DeletionLogOptions {
  store: Pick<Store, "listDeletions" | "highestDeletion">;
  /** The in-process fan-out that delivers both kinds of event (default: a new MemoryNotifier). */
  notifier?: MemoryNotifier;
  /** The log is read every this many ms even without a local deletion: `sis admin` is another process (default 2000). */
  pollMs?: number;
  /** Rows read per query (default 200). */
  batch?: number;
  /** A failed read; by default logged. The poll tries again. */
  onError?: (error: unknown) => void;
}

const logError = (error: unknown) => console.error("sis: cannot read the deletion log:", error);

/**
 * New images: only this process stores them, so publish() delivers at once.
 * Deletions: this process's DELETE_IMAGE and another process's `sis admin rm`
 * or `sis admin delete --images` all write the log in the deleting
 * transaction; publishDeletion() and the poll are wake-ups, and each wake-up
 * delivers the log's rows after the last dseq seen, in order and once. So a
 * deletion takes the same path whoever made it, as on PostgreSQL
 * (src/store/postgres-notifier.ts), with the poll in place of NOTIFY.
 */
export class DeletionLogNotifier implements Notifier {
  readonly #inner: MemoryNotifier;
  readonly #store: DeletionLogOptions["store"];
  readonly #batch: number;
  readonly #onError: (error: unknown) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastDeletion: number;
  #draining: Promise<void> | null = null;
  #again = false;
  #closed = false;
  /** Counters for tests: completed poll reads, deletions delivered, failed reads. */
  readonly stats = { polls: 0, delivered: 0, failures: 0 };

  private constructor(opts: DeletionLogOptions, lastDeletion: number) {
    this.#inner = opts.notifier ?? new MemoryNotifier();
    this.#store = opts.store;
    this.#batch = opts.batch ?? 200;
    this.#onError = opts.onError ?? logError;
    this.#lastDeletion = lastDeletion;
    this.#timer = setInterval(() => this.#wake(true), opts.pollMs ?? 2000);
    this.#timer.unref?.();
  }

  /** Starts after the deletions logged so far: they happened before this server's sessions existed. */
  static async start(opts: DeletionLogOptions): Promise<DeletionLogNotifier> {
    return new DeletionLogNotifier(opts, await opts.store.highestDeletion());
  }

  subscribe(listener: (event: ImageEvent) => void): () => void {
    return this.#inner.subscribe(listener);
  }

  publish(event: ImageEvent): void {
    this.#inner.publish(event);
  }

  subscribeDeletions(listener: (event: DeletionEvent) => void): () => void {
    return this.#inner.subscribeDeletions(listener);
  }

  /** A wake-up, not a delivery: the deletion is delivered from the log, once. */
  publishDeletion(_event: DeletionEvent): void {
    this.#wake();
  }

  /** The highest dseq delivered. */
  get lastDeletion(): number {
    return this.#lastDeletion;
  }

  /** Resolves once no read is running or queued (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  #wake(poll = false): void {
    if (this.#closed) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().then((ok) => {
      if (ok && poll) this.stats.polls++;
    }).finally(() => {
      this.#draining = null;
    });
  }

  /** Resolves to false after a failed read. */
  async #drain(): Promise<boolean> {
    do {
      this.#again = false;
      try {
        for (;;) {
          const rows = await this.#store.listDeletions(this.#lastDeletion, this.#batch);
          for (const d of rows) {
            if (d.dseq <= this.#lastDeletion) continue;
            this.#lastDeletion = d.dseq;
            this.stats.delivered++;
            this.#inner.publishDeletion({ seq: d.seq, id: d.id, owner: d.owner, name: d.name });
          }
          if (rows.length < this.#batch || this.#closed) break;
        }
      } catch (error) {
        this.stats.failures++;
        try {
          this.#onError(error);
        } catch {
          // The error handler failed; the next poll tries again anyway.
        }
        return false;
      }
    } while (this.#again && !this.#closed);
    return true;
  }

  /** Stops the poll; waits for a read under way (the store is closed after this). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.settled();
  }
}
