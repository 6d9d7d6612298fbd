/** The login throttle's counters in this process's memory (ports.ts ThrottleCounters): right for one node on SQLite. */
import type { Millis, ThrottleCounters, ThrottleEntry } from "./ports.ts";

const MAX_ENTRIES = 100_000;

export class MemoryThrottleCounters implements ThrottleCounters {
  private readonly entries = new Map<string, ThrottleEntry>();

  async throttleEntries(keys: readonly string[]): Promise<Map<string, ThrottleEntry>> {
    const out = new Map<string, ThrottleEntry>();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) out.set(key, { ...entry });
    }
    return out;
  }

  async throttleFailure(keys: readonly string[], at: Millis, forgetAfterMs: Millis): Promise<void> {
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry && at - entry.last < forgetAfterMs) {
        entry.failures++;
        entry.last = Math.max(entry.last, at);
        continue;
      }
      // The table cannot grow without bound.
      if (this.entries.size >= MAX_ENTRIES) this.prune(at, forgetAfterMs);
      this.entries.delete(key);
      this.entries.set(key, { failures: 1, last: at });
    }
  }

  async throttleClear(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private prune(now: Millis, forgetAfterMs: Millis): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.last >= forgetAfterMs) this.entries.delete(key);
    }
    // Still full: drop the oldest; Map iterates in insertion order.
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break;
      this.entries.delete(key);
    }
  }
}
