/** A client connection's inbound queue: frames received but not yet read, with the socket paused while it is deep. */
import type { Frame } from "../protocol/index.ts";

/** Above this many queued payload bytes the socket stops reading; below the low mark it reads again. */
export const INBOUND_HIGH = 4 * 1024 * 1024;
const INBOUND_LOW = 1024 * 1024;

/** The socket's flow control as the queue uses it. */
export interface Flow {
  pause(): void;
  resume(): void;
}

export class InboundQueue {
  private readonly frames: Frame[] = [];
  private queued = 0;
  private paused = false;
  private wake: (() => void) | null = null;

  /** `flow` is asked for the socket each time: the connection has none until its handshake. */
  constructor(private readonly flow: () => Flow) {}

  /** The frames not yet read, oldest first. */
  get pending(): readonly Frame[] {
    return this.frames;
  }

  add(frame: Frame): void {
    this.frames.push(frame);
    this.queued += frame.payload.length;
  }

  /** After a batch of frames was added: pauses the socket above the high mark, wakes the reader. */
  added(): void {
    if (this.queued > INBOUND_HIGH && !this.paused) {
      this.paused = true;
      this.flow().pause();
    }
    this.wakeReader();
  }

  /** Wakes a reader waiting in next() (a frame came, or the connection ended). */
  wakeReader(): void {
    this.wake?.();
  }

  /**
   * The oldest frame, waiting for one if none is queued. `ended` is checked before each wait
   * (its error is thrown); `timedOut` runs if nothing came within `timeoutMs` and must end the
   * connection, so the wait ends with its error.
   */
  async next(ended: () => Error | null, timeoutMs: number | undefined, timedOut: () => void): Promise<Frame> {
    while (this.frames.length === 0) {
      const error = ended();
      if (error) throw error;
      await new Promise<void>((resolve) => {
        const timer = timeoutMs ? setTimeout(timedOut, timeoutMs) : null;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    const frame = this.frames.shift()!;
    this.queued -= frame.payload.length;
    if (this.paused && this.queued < INBOUND_LOW) {
      this.paused = false;
      this.flow().resume();
    }
    return frame;
  }
}
