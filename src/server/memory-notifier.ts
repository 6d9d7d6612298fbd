/** MemoryNotifier: in-process fan-out of image events (new and deleted) to subscribed listeners (notification, not storage: it lives beside hub.ts). */
import type { DeletionEvent, ImageEvent, Notifier } from "./ports.ts";

export type ListenerErrorHandler = (error: unknown, event: ImageEvent | DeletionEvent) => void;

const logListenerError: ListenerErrorHandler = (error) => {
  console.error("sis: a notification listener failed:", error);
};

/** One kind of event's subscribers. */
class Listeners<T> {
  // Each subscription gets its own entry, so subscribing one function twice
  // gives two deliveries and each unsubscribe removes only its own.
  readonly #entries = new Set<{ listener: (event: T) => void }>();

  constructor(private readonly onError: (error: unknown, event: T) => void) {}

  add(listener: (event: T) => void): () => void {
    const entry = { listener };
    this.#entries.add(entry);
    return () => {
      this.#entries.delete(entry);
    };
  }

  /**
   * Delivers synchronously to every listener subscribed when delivery starts
   * and still subscribed when its turn comes. A listener that throws is
   * reported and the rest still get the event: one broken connection must
   * not silence the others.
   */
  deliver(event: T): void {
    for (const entry of [...this.#entries]) {
      if (!this.#entries.has(entry)) continue;
      try {
        entry.listener(event);
      } catch (error) {
        try {
          this.onError(error, event);
        } catch {
          // The error handler itself failed; delivery to the others matters more.
        }
      }
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * In process: publishing is delivering. On one node with SQLite `sis serve`
 * puts a DeletionLogNotifier in front, so that deletions come from the
 * store's log, where `sis admin rm` (another process) writes too (M29).
 */
export class MemoryNotifier implements Notifier {
  readonly #images: Listeners<ImageEvent>;
  readonly #deletions: Listeners<DeletionEvent>;

  /** `onError` sees a listener's exception; by default it is logged. */
  constructor(onError: ListenerErrorHandler = logListenerError) {
    this.#images = new Listeners<ImageEvent>(onError);
    this.#deletions = new Listeners<DeletionEvent>(onError);
  }

  /** Returns an unsubscribe function; calling it more than once is harmless. */
  subscribe(listener: (event: ImageEvent) => void): () => void {
    return this.#images.add(listener);
  }

  publish(event: ImageEvent): void {
    this.#images.deliver(event);
  }

  /** Deletions (M27): the same rules as subscribe(). */
  subscribeDeletions(listener: (event: DeletionEvent) => void): () => void {
    return this.#deletions.add(listener);
  }

  publishDeletion(event: DeletionEvent): void {
    this.#deletions.deliver(event);
  }

  /** How many subscriptions are live, of both kinds (for metrics and tests). */
  get size(): number {
    return this.#images.size + this.#deletions.size;
  }
}
