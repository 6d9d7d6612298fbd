/** Frame buffers reused while data is sent: a buffer is free again once the socket has taken all of it. */

/**
 * What is sent through the outbox may wait there (the part the socket did not take
 * yet), so a sent buffer is reused only once the backlog is smaller than what was
 * queued after it: the outbox is FIFO, as in src/server/send-blob.ts. Anything else
 * queued meanwhile only makes that test more conservative. The number of buffers is
 * bounded by the backlog the sender waits for, whatever the length of the stream.
 */
export class SendBuffers {
  private readonly free: ArrayBuffer[] = [];
  private readonly held: { buffer: ArrayBuffer; end: number }[] = [];
  private queued = 0;

  constructor(private readonly size: number) {}

  /** A buffer of `size` bytes, the caller's until it is passed to sent(). */
  take(): Uint8Array {
    return new Uint8Array(this.free.pop() ?? new ArrayBuffer(this.size));
  }

  /** `frame` (a view of a taken buffer) was queued; `backlog` is the outbox's, read after queuing. */
  sent(frame: Uint8Array, backlog: number): void {
    this.queued += frame.length;
    this.held.push({ buffer: frame.buffer as ArrayBuffer, end: this.queued });
    while (this.held.length > 0 && backlog <= this.queued - this.held[0]!.end) this.free.push(this.held.shift()!.buffer);
  }
}
