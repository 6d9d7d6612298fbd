/** Login back-off (P17, M15): exponential delay after repeated failures, per username and per address for REGISTER, per certificate for PASSWD. */

const USER_THRESHOLD = 3;
const ADDRESS_THRESHOLD = 10;
const MAX_DELAY_S = 900;
/** Forget a key this long after its last failure, so the table cannot grow without bound. */
const FORGET_AFTER_MS = 2 * MAX_DELAY_S * 1000;
const MAX_ENTRIES = 100_000;

interface Entry {
  failures: number;
  last: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds to wait before another attempt is allowed, or 0. */
  retryAfter(username: string, address: string): number {
    return Math.max(this.wait(`u:${username}`, USER_THRESHOLD), this.wait(`a:${addressPrefix(address)}`, ADDRESS_THRESHOLD));
  }

  recordFailure(username: string, address: string): void {
    this.bump(`u:${username}`);
    this.bump(`a:${addressPrefix(address)}`);
  }

  recordSuccess(username: string): void {
    this.entries.delete(`u:${username}`);
  }

  // Membership (M15): PASSWD is throttled per certificate, never per username,
  // so a stranger's guesses at REGISTER do not block a device's own requests.
  /** Seconds to wait before PASSWD on the certificate `serial` may try again, or 0. */
  passwdRetryAfter(serial: string): number {
    return this.wait(`c:${serial}`, USER_THRESHOLD);
  }

  passwdResult(serial: string, ok: boolean): void {
    if (ok) this.entries.delete(`c:${serial}`);
    else this.bump(`c:${serial}`);
  }

  private wait(key: string, threshold: number): number {
    const entry = this.entries.get(key);
    if (!entry || entry.failures < threshold) return 0;
    const delay = Math.min(2 ** (entry.failures - threshold), MAX_DELAY_S);
    const left = entry.last + delay * 1000 - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  private bump(key: string): void {
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && now - entry.last < FORGET_AFTER_MS) {
      entry.failures++;
      entry.last = now;
      return;
    }
    if (this.entries.size >= MAX_ENTRIES) this.prune(now);
    this.entries.set(key, { failures: 1, last: now });
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.last >= FORGET_AFTER_MS) this.entries.delete(key);
    }
    // Still full: drop the oldest; Map iterates in insertion order.
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break;
      this.entries.delete(key);
    }
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
