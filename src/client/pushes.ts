/** The frames a server sends unasked, taken aside from a connection's replies: NEW_IMAGE, IMAGE_DELETED and the cut-through pushes. */
import {
  CONTROL, PUSH_DATA, PUSH_DATA_PREFIX, decodeServerMessage, type Frame, type ImageMeta, type ServerMessage, type ServerMessageOf,
} from "../protocol/index.ts";
import type { PayloadPool } from "./payload-pool.ts";

/** Who takes the cut-through pushes of a connection (P41–P43): called synchronously, in frame order. */
export interface IncomingListener {
  incoming(message: ServerMessageOf<"INCOMING">): void;
  /**
   * `bytes` is the listener's until it calls `release` (then its buffer is reused): a view of a
   * buffer nothing else uses. Every chunk must be released, read or not: the connection stops
   * reading while PUSH_HIGH bytes are unreleased (src/client/inbound-queue.ts).
   */
  data(delivery: number, bytes: Uint8Array, release: () => void): void;
  delivered(message: ServerMessageOf<"DELIVERED">): void;
  dropped(message: ServerMessageOf<"DROPPED">): void;
}

/** A connection's push listeners, and the test of each inbound frame for a push. */
export class Pushes {
  readonly images = new Set<(image: ImageMeta) => void>();
  readonly deletions = new Set<(image: ServerMessageOf<"IMAGE_DELETED">["image"]) => void>();
  /** Version 3 (P41–P43): INCOMING, PUSH_DATA, DELIVERED, DROPPED; without one they are ignored. */
  incoming: IncomingListener | null = null;

  /** Push data payloads are `pool`'s buffers; `released` runs after one went back (the socket may read again). */
  constructor(private readonly pool: PayloadPool, private readonly released: () => void) {}

  /** True when `frame` was a push and went to its listeners; false for a frame the reader gets. */
  take(frame: Frame): boolean {
    if (frame.kind === PUSH_DATA) {
      this.pushData(frame.payload);
      return true;
    }
    return frame.kind === CONTROL && this.control(frame);
  }

  /** A PUSH_DATA frame (P41): its delivery number, then ciphertext. */
  private pushData(payload: Uint8Array): void {
    const listener = this.incoming;
    // No bytes (a hostile server's frame) or nobody taking them: nothing to deliver.
    if (payload.length <= PUSH_DATA_PREFIX || !listener) return this.pool.give(payload);
    const delivery = new DataView(payload.buffer, payload.byteOffset, PUSH_DATA_PREFIX).getUint32(0, false);
    let released = false;
    listener.data(delivery, payload.subarray(PUSH_DATA_PREFIX), () => {
      // Once only: a second call must not give back the buffer after it was taken again.
      if (released) return;
      released = true;
      this.pool.give(payload);
      this.released();
    });
  }

  /** NEW_IMAGE and IMAGE_DELETED may arrive between any two frames (PROTOCOL.md section 4, M27); so may INCOMING, DELIVERED and DROPPED (P41–P43). */
  private control(frame: Frame): boolean {
    // Cheap pre-check before JSON parsing: pushes are the only messages with these types.
    const p = frame.payload;
    const head = Buffer.from(p.buffer, p.byteOffset, Math.min(40, p.length)).toString("latin1");
    const cutThrough = head.includes("\"INCOMING\"") || head.includes("\"DELIVERED\"") || head.includes("\"DROPPED\"");
    if (cutThrough) {
      let pushed: ServerMessage;
      try {
        pushed = decodeServerMessage(p);
      } catch {
        return false;
      }
      const listener = this.incoming;
      if (pushed.type === "INCOMING") listener?.incoming(pushed);
      else if (pushed.type === "DELIVERED") listener?.delivered(pushed);
      else if (pushed.type === "DROPPED") listener?.dropped(pushed);
      else return false;
      return true;
    }
    if (p.length > 4096) return false;
    if (!head.includes("NEW_IMAGE") && !head.includes("IMAGE_DELETED")) return false;
    let message: ServerMessage;
    try {
      message = decodeServerMessage(frame.payload);
    } catch {
      return false;
    }
    if (message.type === "IMAGE_DELETED") {
      for (const listener of this.deletions) listener(message.image);
      return true;
    }
    if (message.type !== "NEW_IMAGE") return false;
    for (const listener of this.images) listener(message.image);
    return true;
  }
}
