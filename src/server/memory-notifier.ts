/** MemoryNotifier: in-process fan-out of image events to subscribed listeners (notification, not storage: it lives beside hub.ts). */
import type { ImageEvent, Notifier } from "./ports.ts";

export type ListenerErrorHandler = (error: unknown, event: ImageEvent) => void;

const logListenerError: ListenerErrorHandler = (error) => {
  console.error("sis: a notification listener failed:", error);
};

export class MemoryNotifier implements Notifier {
  // Each subscription gets its own entry, so subscribing one function twice
  // gives two deliveries and each unsubscribe removes only its own.
  readonly #listeners = new Set<{ listener: (event: ImageEvent) => void }>();

  /** `onError` sees a listener's exception; by default it is logged. */
  constructor(private readonly onError: ListenerErrorHandler = logListenerError) {}

  /** Returns an unsubscribe function; calling it more than once is harmless. */
  subscribe(listener: (event: ImageEvent) => void): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Delivers synchronously to every listener subscribed when publish() starts
   * and still subscribed when its turn comes. A listener that throws is
   * reported and the rest still get the event: one broken connection must
   * not silence the others.
   */
  publish(event: ImageEvent): void {
    for (const entry of [...this.#listeners]) {
      if (!this.#listeners.has(entry)) continue;
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

  /** How many subscriptions are live (for metrics and tests). */
  get size(): number {
    return this.#listeners.size;
  }
}
