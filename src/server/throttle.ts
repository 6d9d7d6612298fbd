/** Login back-off (P17, M15): exponential delay after repeated failures, per username and per address for REGISTER, per certificate for PASSWD. */

import type { ThrottleCounters, ThrottleEntry } from "./ports.ts";
import { MemoryThrottleCounters } from "./throttle-memory.ts";

const USER_THRESHOLD = 3;
const ADDRESS_THRESHOLD = 10;
const MAX_DELAY_S = 900;
/** Forget a key this long after its last failure, so the counters cannot grow without bound. */
export const FORGET_AFTER_MS = 2 * MAX_DELAY_S * 1000;

/**
 * The policy (thresholds, exponential back-off, cap) over counters kept elsewhere: in this
 * process for one node, in the database for several (ports.ts ST10), so wrong passwords spread
 * over the nodes are throttled at the count one node would throttle them at.
 */
export class LoginThrottle {
  constructor(
    private readonly now: () => number = Date.now,
    private readonly counters: ThrottleCounters = new MemoryThrottleCounters(),
  ) {}

  /** Seconds to wait before another attempt is allowed, or 0. */
  async retryAfter(username: string, address: string): Promise<number> {
    const user = `u:${username}`;
    const net = `a:${addressPrefix(address)}`;
    const entries = await this.counters.throttleEntries([user, net]);
    return Math.max(this.wait(entries.get(user), USER_THRESHOLD), this.wait(entries.get(net), ADDRESS_THRESHOLD));
  }

  recordFailure(username: string, address: string): Promise<void> {
    return this.counters.throttleFailure([`u:${username}`, `a:${addressPrefix(address)}`], this.now(), FORGET_AFTER_MS);
  }

  recordSuccess(username: string): Promise<void> {
    return this.counters.throttleClear(`u:${username}`);
  }

  // Membership (M15): PASSWD is throttled per certificate, never per username,
  // so a stranger's guesses at REGISTER do not block a device's own requests.
  /** Seconds to wait before PASSWD on the certificate `serial` may try again, or 0. */
  async passwdRetryAfter(serial: string): Promise<number> {
    const key = `c:${serial}`;
    return this.wait((await this.counters.throttleEntries([key])).get(key), USER_THRESHOLD);
  }

  passwdResult(serial: string, ok: boolean): Promise<void> {
    return ok ? this.counters.throttleClear(`c:${serial}`) : this.counters.throttleFailure([`c:${serial}`], this.now(), FORGET_AFTER_MS);
  }

  private wait(entry: ThrottleEntry | undefined, threshold: number): number {
    if (!entry || entry.failures < threshold) return 0;
    const now = this.now();
    // A forgotten entry waits for nothing, also where the counters prune lazily.
    if (now - entry.last >= FORGET_AFTER_MS) return 0;
    const delay = Math.min(2 ** (entry.failures - threshold), MAX_DELAY_S);
    const left = entry.last + delay * 1000 - now;
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }
}

/**
 * M15: the per-address counter is kept per network, not per address: an IPv4
 * /24 and an IPv6 /64 (one customer's allocation), so hopping to the next
 * address of the same network does not reset it. IPv4-mapped IPv6 counts as IPv4.
 */
export function addressPrefix(address: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(address);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = address.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = address.includes("::") ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
