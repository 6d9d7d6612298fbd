/** Reused buffers for the data payloads a client connection receives (DOWNLOAD data, cut-through push data). */

/**
 * Buffers of one size for payloads the frame decoder copies in. A buffer is reused only after
 * its consumer gave it back; one never given back is ordinary garbage. `outstanding` counts the
 * bytes of the `counted` takes not given back yet: push data, what the cut-through partials
 * still hold unwritten, which the connection keeps bounded by not reading its socket (P44).
 * Downloads and deliveries share the buffers: a dropped delivery's are the download's next.
 */
export class PayloadPool {
  private readonly free: ArrayBuffer[] = [];
  /** Buffers taken and not given back, with the length counted (weak: one never given back is still collected). */
  private readonly lent = new WeakMap<ArrayBuffer, number>();
  /** Bytes of counted takes not given back (their consumers give every one back). */
  outstanding = 0;

  constructor(
    private readonly bufferSize: number,
    /** Most free buffers kept; one more given back is freed at once. */
    private readonly keepMax: number,
  ) {}

  take(length: number, counted = false): Uint8Array {
    const buffer = this.free.pop() ?? new ArrayBuffer(this.bufferSize);
    const count = counted ? length : 0;
    this.lent.set(buffer, count);
    this.outstanding += count;
    return new Uint8Array(buffer, 0, length);
  }

  /** `payload` (or a view of its buffer) is no longer read: its buffer may be taken again. Twice is harmless. */
  give(payload: Uint8Array): void {
    const buffer = payload.buffer as ArrayBuffer;
    const length = this.lent.get(buffer);
    if (length === undefined) return; // not ours, or given back already
    this.lent.delete(buffer);
    this.outstanding -= length;
    // One too many (more were in use at once than are kept): freed now, by detaching it,
    // rather than left as garbage that JavaScriptCore frees late (a watcher's peak over four
    // 100 MiB images in a row grew 70 → 84 MiB with them left, 68–72 MiB freed).
    if (this.free.length >= this.keepMax) buffer.transfer(0);
    else this.free.push(buffer);
  }
}
