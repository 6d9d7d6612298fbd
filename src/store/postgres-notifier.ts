/** PostgresNotifier: the Notifier port across nodes: a LISTEN doorbell on sis_images plus a periodic poll, each node reading the new rows and the deletion log itself. */
import { SQL } from "bun";
import type { DeletionEvent, ImageEvent, ImageRecord, Notifier, Store } from "../server/ports.ts";
import { DELETION_PREFIX, IMAGE_CHANNEL } from "./postgres-statements.ts";

/** What the notifier reads: this node's store (the new rows, and the deletion log: ports.ts ST12). */
export type DoorbellSource = Pick<Store, "listImages" | "listDeletions" | "highestDeletion">;

export interface PostgresNotifierOptions {
  /** The database the stores write to (the doorbell is per database). */
  url: string;
  /** Where the new rows and the deletions are read from: this node's store. */
  store: DoorbellSource;
  /** The seq this node has already seen (PostgresStore.highestSeq() at start-up): events begin after it. */
  startAfter: number;
  /** The dseq of the deletion log already seen (PostgresStore.highestDeletion()); read at start() when absent. */
  deletionsAfter?: number;
  /** Catch-up read every this many ms even without a notification: covers a lost listener (default 2000). */
  pollMs?: number;
  /** Rows read per query while catching up (default 200). */
  batch?: number;
  /** application_name of the LISTEN connection (default "sis-listen"). */
  applicationName?: string;
  /** A failed catch-up read or a listener that threw; by default logged. The poll tries again. */
  onError?: (error: unknown) => void;
}

interface Reads {
  images: boolean;
  deletions: boolean;
}
const BOTH: Reads = { images: true, deletions: true };
const IMAGES: Reads = { images: true, deletions: false };
const DELETIONS: Reads = { images: false, deletions: true };

const logError = (error: unknown) => console.error("sis: the image doorbell failed:", error);

export function toEvent(r: ImageRecord): ImageEvent {
  return { seq: r.seq, id: r.id, owner: r.owner, name: r.name, size: r.size, contentType: r.contentType, createdAt: r.createdAt };
}

/**
 * The rule (SCALING.md): a notification carries no data, only "the newest seq
 * is now N" (or "the newest deletion is now N"). On any wake-up (a
 * notification, this node's own publish() or publishDeletion(), the poll, a
 * re-established LISTEN) the node reads `LIST after=lastSeen` from PostgreSQL
 * and hands each row, in seq order, exactly once to its local subscribers;
 * then the same for the deletion log after the last dseq seen. seq and dseq
 * are commit order (ports.ts ST1, postgres-statements.ts logDeletionsTx), so
 * reading after the last seen never skips a row; a lost notification only
 * delays delivery until the next wake-up, at most pollMs. Images are read
 * before deletions, and a deletion is logged only once its row is gone, so
 * an image is never announced after its deletion.
 */
export class PostgresNotifier implements Notifier {
  readonly #listeners = new Set<{ listener: (event: ImageEvent) => void }>();
  readonly #deletionListeners = new Set<{ listener: (event: DeletionEvent) => void }>();
  readonly #opts: Required<Omit<PostgresNotifierOptions, "startAfter" | "deletionsAfter">>;
  readonly #sql: SQL;
  #lastSeen: number;
  #lastDeletion: number;
  #lastWake = Date.now();
  #draining: Promise<void> | null = null;
  /** What the next read must cover: set by wake-ups, taken by #drain. */
  #pending: Reads = { images: false, deletions: false };
  #closed = false;
  #timer: ReturnType<typeof setInterval> | null = null;
  #subscription: SQL.ListenSubscription | null = null;
  /** Counters for /metrics and tests. */
  readonly stats = { notifications: 0, polls: 0, relistens: 0, delivered: 0, deletions: 0, failures: 0 };

  private constructor(opts: PostgresNotifierOptions & { deletionsAfter: number }) {
    this.#opts = {
      url: opts.url, store: opts.store, pollMs: opts.pollMs ?? 2000, batch: opts.batch ?? 200,
      applicationName: opts.applicationName ?? "sis-listen", onError: opts.onError ?? logError,
    };
    this.#lastSeen = opts.startAfter;
    this.#lastDeletion = opts.deletionsAfter;
    this.#sql = new SQL(opts.url, { max: 1, connection: { application_name: this.#opts.applicationName } });
  }

  /** Subscribes to the channel (resolves once PostgreSQL acknowledged the LISTEN) and starts the poll. */
  static async start(opts: PostgresNotifierOptions): Promise<PostgresNotifier> {
    const n = new PostgresNotifier({ ...opts, deletionsAfter: opts.deletionsAfter ?? (await opts.store.highestDeletion()) });
    let listened = false;
    try {
      n.#subscription = await n.#sql.listen(IMAGE_CHANNEL, (payload) => n.#onNotify(payload), () => {
        // Bun re-subscribes after a dropped connection; notifications sent meanwhile are lost: catch up.
        if (listened) {
          n.stats.relistens++;
          n.#wake();
        }
        listened = true;
      });
    } catch (err) {
      await n.#sql.close();
      throw err;
    }
    n.#timer = setInterval(() => {
      n.stats.polls++;
      n.#wake();
    }, n.#opts.pollMs);
    n.#timer.unref?.();
    // Rows committed between startAfter and the LISTEN would otherwise wait for the first poll.
    n.#wake();
    return n;
  }

  subscribe(listener: (event: ImageEvent) => void): () => void {
    return add(this.#listeners, listener);
  }

  subscribeDeletions(listener: (event: DeletionEvent) => void): () => void {
    return add(this.#deletionListeners, listener);
  }

  /**
   * Called by this node once its own insert committed. The event is not
   * delivered from here: it is only a local doorbell, and the row is
   * delivered by the catch-up read with every other node's rows, in seq
   * order and once (the insert's NOTIFY rings again; the read finds nothing new).
   */
  publish(_event: ImageEvent): void {
    this.#wake(IMAGES);
  }

  /**
   * Called by this node once its own deletion committed: a wake-up as
   * publish(). The deletion is delivered from the log (postgres-statements.ts
   * logDeletionsTx), like another node's or a `sis admin rm` process's.
   */
  publishDeletion(_event: DeletionEvent): void {
    this.#wake(DELETIONS);
  }

  /** The highest dseq of the deletion log delivered to this node's subscribers. */
  get lastDeletion(): number {
    return this.#lastDeletion;
  }

  /** The highest seq delivered to this node's subscribers. */
  get lastSeen(): number {
    return this.#lastSeen;
  }

  /** Milliseconds since the last notification or completed catch-up read: for /metrics (a dead doorbell and a dead poll both show here). */
  msSinceLastCheck(now = Date.now()): number {
    return now - this.#lastWake;
  }

  /** Resolves once no catch-up read is running or queued (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  #onNotify(payload: string): void {
    this.stats.notifications++;
    this.#lastWake = Date.now();
    const deletion = payload.startsWith(DELETION_PREFIX);
    const n = Number(deletion ? payload.slice(DELETION_PREFIX.length) : payload);
    // Already delivered (this node's own insert or deletion, or a repeat): nothing to read.
    if (Number.isSafeInteger(n) && n <= (deletion ? this.#lastDeletion : this.#lastSeen) && !this.#draining) return;
    this.#wake(deletion ? DELETIONS : IMAGES);
  }

  /**
   * A notification or a local publish names what changed, so only that is
   * read (an insert costs no deletion-log query on every node); the poll,
   * a re-established LISTEN and the start read both.
   */
  #wake(what: Reads = BOTH): void {
    if (this.#closed) return;
    this.#pending = { images: this.#pending.images || what.images, deletions: this.#pending.deletions || what.deletions };
    if (this.#draining) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async #drain(): Promise<void> {
    while ((this.#pending.images || this.#pending.deletions) && !this.#closed) {
      const now = this.#pending;
      this.#pending = { images: false, deletions: false };
      try {
        for (;;) {
          if (!now.images) break;
          const rows = await this.#opts.store.listImages({ after: this.#lastSeen, limit: this.#opts.batch });
          for (const r of rows) {
            if (r.seq <= this.#lastSeen) continue;
            this.#lastSeen = r.seq;
            this.#deliver(toEvent(r));
          }
          if (rows.length < this.#opts.batch || this.#closed) break;
        }
        for (;;) {
          if (!now.deletions) break;
          const gone = await this.#opts.store.listDeletions(this.#lastDeletion, this.#opts.batch);
          for (const d of gone) {
            if (d.dseq <= this.#lastDeletion) continue;
            this.#lastDeletion = d.dseq;
            this.#deliverDeletion({ seq: d.seq, id: d.id, owner: d.owner, name: d.name });
          }
          if (gone.length < this.#opts.batch || this.#closed) break;
        }
        this.#lastWake = Date.now();
      } catch (err) {
        this.stats.failures++;
        this.#report(err);
        return; // the next wake-up (at the latest the poll) tries again
      }
    }
  }

  #deliver(event: ImageEvent): void {
    this.stats.delivered++;
    this.#each(this.#listeners, event);
  }

  #deliverDeletion(event: DeletionEvent): void {
    this.stats.deletions++;
    this.#each(this.#deletionListeners, event);
  }

  #each<T>(listeners: Set<{ listener: (event: T) => void }>, event: T): void {
    for (const entry of [...listeners]) {
      if (!listeners.has(entry)) continue;
      try {
        entry.listener(event);
      } catch (err) {
        this.#report(err);
      }
    }
  }

  #report(err: unknown): void {
    try {
      this.#opts.onError(err);
    } catch {
      // The error handler failed; delivery to the others matters more.
    }
  }

  /** Stops the poll, leaves the channel and closes the LISTEN connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.settled();
    await this.#subscription?.unlisten().catch(() => {});
    await this.#sql.close();
  }
}

/** Each subscription its own entry (the Notifier contract: one function subscribed twice is delivered twice). */
function add<T>(set: Set<{ listener: (event: T) => void }>, listener: (event: T) => void): () => void {
  const entry = { listener };
  set.add(entry);
  return () => {
    set.delete(entry);
  };
}
