/** The notification port: how stored and deleted images reach every node's sessions. */
import type { DeletionEvent, ImageEvent } from "./records.ts";

/**
 * The fan-out of stored and deleted images to this node's sessions (the Hub
 * subscribes). New images and deletions travel the same way: the handler
 * publishes after its store call committed, and the notifier delivers to
 * every subscriber; a notifier across nodes (src/store/postgres-notifier.ts)
 * also delivers what other nodes and `sis admin` processes committed, and
 * treats publish() as a wake-up, not a delivery, so each event arrives once.
 */
export interface Notifier {
  subscribe(listener: (event: ImageEvent) => void): () => void;
  publish(event: ImageEvent): void;
  subscribeDeletions(listener: (event: DeletionEvent) => void): () => void;
  publishDeletion(event: DeletionEvent): void;
}
