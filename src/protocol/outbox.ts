/** Ordered socket writes with backpressure: queue what the socket did not take, flush on drain. */

export interface WritableSocket {
  write(data: Uint8Array): number;
  end(): void;
}

export class Outbox {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly socket: WritableSocket) {}

  /** Bytes accepted but not yet taken by the socket. */
  get backlog(): number {
    return this.queued;
  }

  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.queue.length === 0) {
      const written = this.socket.write(bytes);
      if (written >= bytes.length) return;
      bytes = bytes.subarray(Math.max(0, written));
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
  }

  /** Called from the socket's drain handler. */
  flush(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const written = this.socket.write(head);
      if (written >= head.length) {
        this.queue.shift();
        this.queued -= head.length;
        continue;
      }
      if (written > 0) {
        this.queue[0] = head.subarray(written);
        this.queued -= written;
      }
      return;
    }
    this.wake();
  }

  /** Resolves when the backlog is at most `limit` bytes (or the socket closed). */
  async below(limit: number): Promise<void> {
    while (this.queued > limit && !this.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Sends what is queued, then ends the socket. */
  async endAfterFlush(): Promise<void> {
    await this.below(0);
    if (!this.closed) this.socket.end();
  }

  markClosed(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queued = 0;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
