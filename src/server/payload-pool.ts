/** Reused buffers for the data payloads of an upload, so a stream of any length allocates a bounded number. */

/**
 * Buffers for DATA payloads being uploaded. The session's FrameDecoder copies each
 * payload into take(); the upload gives it back once the blob writer has copied or
 * written it (BlobWriter.write does not retain a chunk after it resolves). A payload
 * never given back (an upload that failed meanwhile) is ordinary garbage. The pool
 * holds at most what was in flight at once, which the session's inbound limit bounds.
 */
export class PayloadPool {
  private free: ArrayBuffer[] = [];
  private readonly mine = new WeakSet<ArrayBuffer>();

  /**
   * `length` bytes: the last buffer given back if it is large enough, else a new one of
   * exactly that size (a free one too small is dropped, so the pool never outgrows the
   * most payloads in flight at once).
   */
  take(length: number): Uint8Array {
    const buffer = this.free.pop();
    if (buffer && buffer.byteLength >= length) return new Uint8Array(buffer, 0, length);
    const fresh = new ArrayBuffer(length);
    this.mine.add(fresh);
    return new Uint8Array(fresh, 0, length);
  }

  /** The payload's buffer is free for the next take(); the caller no longer reads it. */
  give(payload: Uint8Array): void {
    const buffer = payload.buffer as ArrayBuffer;
    if (this.mine.has(buffer) && !this.free.includes(buffer)) this.free.push(buffer);
  }

  /**
   * Frees the free buffers (an upload ended): an idle session holds none. They are
   * detached (transfer(0)), which frees their memory at once; left as garbage, an
   * upload's few MiB of them would pile up until a collection, upload after upload.
   */
  clear(): void {
    for (const buffer of this.free) buffer.transfer(0);
    this.free = [];
  }
}
