/**
 * Waiting out the server's post rate (PROTOCOL.md M26): a post refused with RATE_LIMITED and
 * `retryAfter` is tried again after that long, so an album larger than the server's rate posts
 * without the person knowing the rate. One gate per run: every post refused waits on the same
 * timer and the next file is not started before it ends, so the files stay in order and the
 * server is not asked again and again.
 */
import { RemoteError } from "./errors.ts";

/** The longest single wait sis accepts; a longer retryAfter fails the post (the server asks for a pause, not a wait). */
export const MAX_RATE_WAIT_S = 5 * 60;
/** The most one run waits in all; beyond it the posts left fail with the server's RATE_LIMITED. */
export const MAX_TOTAL_RATE_WAIT_S = 60 * 60;

/** Told once a wait starts: the server's words, how long, and the first wait of the run or a later one. */
export type OnRateWait = (wait: RateWait) => void;

/** `left`: the files still to post when the wait ends, the refused one included. */
export interface RateWait {
  seconds: number;
  message: string;
  first: boolean;
  left: number;
}

export class RateGate {
  private waited = 0;
  private waits = 0;
  private current: Promise<void> | null = null;

  constructor(private readonly onWait: OnRateWait = () => {}) {}

  /** Resolves once no wait is under way: called before a new post is started. */
  async open(): Promise<void> {
    while (this.current) await this.current;
  }

  /**
   * Whether `error` is a refusal to wait out, and if so waits: true once the post may be tried
   * again, false when it is no rate refusal or the wait would pass the bounds (the error stands).
   * Posts refused together share the wait under way.
   */
  async waitOut(error: unknown, left = 1): Promise<boolean> {
    if (!(error instanceof RemoteError) || error.code !== "RATE_LIMITED" || error.retryAfter === undefined) return false;
    if (this.current) {
      await this.open();
      return true;
    }
    const seconds = Math.max(1, Math.ceil(error.retryAfter));
    if (seconds > MAX_RATE_WAIT_S || this.waited + seconds > MAX_TOTAL_RATE_WAIT_S) return false;
    this.waited += seconds;
    this.onWait({ seconds, message: error.message, first: this.waits++ === 0, left });
    // Not unref'd: the run is waiting for this. Ctrl-C ends the process as at any other time.
    this.current = new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000)).finally(() => (this.current = null));
    await this.current;
    return true;
  }
}

/** The stderr line for a wait: "sis: the server takes at most 5 posts a minute per user; waiting 23 s, then going on with 79 more". */
export function rateWaitLine(wait: RateWait): string {
  // The server's words up to its own "try again" advice, which sis now follows itself.
  const limit = wait.message.replace(/;\s*try again.*$/i, "").replace(/^this server/i, "the server");
  const rest = wait.left > 1 ? `, then going on with ${wait.left} more` : ", then trying again";
  return `sis: ${limit}; waiting ${wait.seconds} s${rest}\n`;
}
