/**
 * A client connection's inbound queue: frames received but not yet read, with the socket paused
 * while the queue is deep or while the cut-through partials hold too much push data unwritten.
 */
import type { Frame } from "../protocol/index.ts";

/** Above this many queued payload bytes the socket stops reading; below the low mark it reads again. */
export const INBOUND_HIGH = 4 * 1024 * 1024;
const INBOUND_LOW = 1024 * 1024;

/**
 * Push data (P41) taken off the socket and not yet decrypted and written by the cut-through
 * partials: above PUSH_HIGH the connection stops reading until they are down to PUSH_LOW (P44).
 * So a watcher holds at most this much of a delivery however fast it comes; a watcher that stays
 * behind is dropped by the server (P45) and downloads the image instead. Measured (bench/README.md,
 * *Issue 17: the watcher's memory and start-up*), peak RSS of a watch per 100 MiB cut-through:
 * 77–80 MiB at 1 MiB, 89–91 MiB at 4 MiB, 77–105 at 16 MiB; as many deliveries completed at 1 MiB
 * as at 16 (the kernel's socket buffers and the server's 4 MiB absorb a watcher's pauses).
 */
export const PUSH_HIGH = 1024 * 1024;
const PUSH_LOW = 512 * 1024;

/** The socket's flow control as the queue uses it. */
export interface Flow {
  pause(): void;
  resume(): void;
}

export class InboundQueue {
  private readonly frames: Frame[] = [];
  private queued = 0;
  /** The socket is paused: by a full inbound queue, by unwritten push data, or both. */
  private paused = false;
  private wake: (() => void) | null = null;

  /**
   * `flow` is asked for the socket each time: the connection has none until its handshake.
   * `pushHeld` is the push data the cut-through partials hold unwritten, in bytes.
   */
  constructor(
    private readonly flow: () => Flow,
    private readonly pushHeld: () => number,
    private readonly ended: () => Error | null,
  ) {}

  /** The frames not yet read, oldest first. */
  get pending(): readonly Frame[] {
    return this.frames;
  }

  add(frame: Frame): void {
    this.frames.push(frame);
    this.queued += frame.payload.length;
  }

  /** After a batch of frames was added: pauses the socket above a high mark, wakes the reader. */
  added(): void {
    this.updateReading();
    this.wakeReader();
  }

  /** Wakes a reader waiting in next() (a frame came, or the connection ended). */
  wakeReader(): void {
    this.wake?.();
  }

  /** Reads the socket only while the queue and the unwritten push data are within bounds; call when either shrank. */
  updateReading(): void {
    const held = this.pushHeld();
    const full = this.paused ? this.queued >= INBOUND_LOW || held > PUSH_LOW : this.queued > INBOUND_HIGH || held > PUSH_HIGH;
    if (full === this.paused || this.ended()) return;
    this.paused = full;
    if (full) this.flow().pause();
    else this.flow().resume();
  }

  /** True while the socket is paused (a release of push data may then resume it). */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * The oldest frame, waiting for one if none is queued. `ended` is checked before each wait
   * (its error is thrown); `timedOut` runs if nothing came within `timeoutMs` and must end the
   * connection, so the wait ends with its error.
   */
  async next(timeoutMs: number | undefined, timedOut: () => void): Promise<Frame> {
    while (this.frames.length === 0) {
      const error = this.ended();
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
    if (this.paused) this.updateReading();
    return frame;
  }
}
