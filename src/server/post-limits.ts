/** Per-user post limits (PROTOCOL.md M25, M26): posts and bytes per minute, and the bytes of uploads under way counted against the quota. */

const WINDOW_MS = 60_000;

export interface PostLimitPolicy {
  /** Ciphertext bytes a user may store; 0 = no quota. */
  quotaBytes: number;
  /** POST_IMAGE requests accepted per user per minute; 0 = no limit. */
  postsPerMinute: number;
  /** Declared ciphertext bytes accepted per user per minute; 0 = no limit. */
  postBytesPerMinute: number;
}

interface Window {
  /** Accepted posts in the last minute: when, and how many bytes. */
  posts: { at: number; bytes: number }[];
}

/** Refusal: how long until a post of this size fits the rate, in whole seconds (at least 1). */
export type RateVerdict = { ok: true } | { ok: false; retryAfter: number; reason: "posts" | "bytes" };

export class PostLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly policy: PostLimitPolicy) {}

  /** Bytes of this user's uploads accepted and not yet committed or given up. */
  inFlightOf(user: string): number {
    return this.inFlight.get(user) ?? 0;
  }

  /** Whether a post of `bytes` fits the user's rate now; does not record it. */
  checkRate(user: string, bytes: number, now = Date.now()): RateVerdict {
    const w = this.prune(user, now);
    const { postsPerMinute, postBytesPerMinute } = this.policy;
    if (postsPerMinute > 0 && w.posts.length >= postsPerMinute) {
      // The oldest post that must leave the window for one more to fit.
      const oldest = w.posts[w.posts.length - postsPerMinute]!;
      return { ok: false, reason: "posts", retryAfter: secondsUntil(oldest.at + WINDOW_MS, now) };
    }
    if (postBytesPerMinute > 0 && w.posts.length > 0) {
      let total = w.posts.reduce((sum, p) => sum + p.bytes, 0) + bytes;
      if (total > postBytesPerMinute) {
        // An image larger than the whole byte rate is let through once the window is empty.
        let leaveAt = w.posts[w.posts.length - 1]!.at;
        for (const p of w.posts) {
          total -= p.bytes;
          if (total <= postBytesPerMinute) {
            leaveAt = p.at;
            break;
          }
        }
        return { ok: false, reason: "bytes", retryAfter: secondsUntil(leaveAt + WINDOW_MS, now) };
      }
    }
    return { ok: true };
  }

  /** Records an accepted post and reserves its bytes against the quota until release(). */
  accept(user: string, bytes: number, now = Date.now()): void {
    this.prune(user, now).posts.push({ at: now, bytes });
    this.inFlight.set(user, this.inFlightOf(user) + bytes);
  }

  /** The upload ended (committed, refused or abandoned): its bytes are no longer in flight. */
  release(user: string, bytes: number): void {
    const left = this.inFlightOf(user) - bytes;
    if (left <= 0) this.inFlight.delete(user);
    else this.inFlight.set(user, left);
  }

  get quotaBytes(): number {
    return this.policy.quotaBytes;
  }

  get postsPerMinute(): number {
    return this.policy.postsPerMinute;
  }

  get postBytesPerMinute(): number {
    return this.policy.postBytesPerMinute;
  }

  private prune(user: string, now: number): Window {
    let w = this.windows.get(user);
    if (!w) {
      w = { posts: [] };
      this.windows.set(user, w);
    }
    while (w.posts.length > 0 && w.posts[0]!.at <= now - WINDOW_MS) w.posts.shift();
    return w;
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}
