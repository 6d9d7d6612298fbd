/** The client's reusable buffers for inbound data payloads (a connection's decoder fills them). */
import { MAX_DATA_FRAME } from "../protocol/index.ts";
import { INBOUND_HIGH } from "./inbound-queue.ts";

/** Most buffers kept for reuse: the inbound queue's depth in full data frames. */
const POOL_MAX = INBOUND_HIGH / MAX_DATA_FRAME;

/**
 * Buffers for data payloads. A buffer is reused only after a consumer gave it back
 * (receiveData `transient`); one never given back is ordinary garbage.
 */
export class PayloadPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly mine = new WeakSet<ArrayBuffer>();

  take(length: number): Uint8Array {
    let buffer = this.free.pop();
    if (!buffer) {
      buffer = new ArrayBuffer(MAX_DATA_FRAME);
      this.mine.add(buffer);
    }
    return new Uint8Array(buffer, 0, length);
  }

  give(payload: Uint8Array): void {
    const buffer = payload.buffer as ArrayBuffer;
    if (!this.mine.has(buffer) || this.free.includes(buffer)) return;
    // One too many (the queue briefly held more than POOL_MAX): freed now, by detaching it,
    // rather than left as garbage that JavaScriptCore frees late (a watcher's peak over four
    // 100 MiB images in a row grew 70 → 84 MiB with them left, 68–72 MiB freed).
    if (this.free.length >= POOL_MAX) buffer.transfer(0);
    else this.free.push(buffer);
  }
}
