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

/** The pre-check looks for a push's type in this many first bytes of a control frame. */
const HEAD = 40;
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const INCOMING_TYPE = ascii('"INCOMING"');
const DELIVERED_TYPE = ascii('"DELIVERED"');
const DROPPED_TYPE = ascii('"DROPPED"');
const NEW_IMAGE_TYPE = ascii("NEW_IMAGE");
const IMAGE_DELETED_TYPE = ascii("IMAGE_DELETED");

/**
 * Whether the ASCII bytes `pattern` occur within the first HEAD bytes of `payload`: what
 * `latin1(payload[0..HEAD]).includes(pattern)` says, without making the string (a watching
 * connection tests every control frame, and a fan-out's receivers thousands).
 */
export function inHead(payload: Uint8Array, pattern: Uint8Array): boolean {
  const last = Math.min(HEAD, payload.length) - pattern.length;
  outer: for (let i = 0; i <= last; i++) {
    for (let j = 0; j < pattern.length; j++) if (payload[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
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
    const cutThrough = inHead(p, INCOMING_TYPE) || inHead(p, DELIVERED_TYPE) || inHead(p, DROPPED_TYPE);
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
    if (!inHead(p, NEW_IMAGE_TYPE) && !inHead(p, IMAGE_DELETED_TYPE)) return false;
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
