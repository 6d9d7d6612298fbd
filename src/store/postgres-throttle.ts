/** The login throttle's counters in PostgreSQL (ports.ts ST10): every node counts into one row per key. */
import type { SQL } from "bun";
import type { Millis, ThrottleEntry } from "../server/ports.ts";

/** Rows whose last failure is older than the forget time are deleted every this many failures of a node. */
const PRUNE_EVERY = 256;

export class PostgresThrottle {
  #failures = 0;

  constructor(private readonly sql: () => SQL) {}

  async entries(keys: readonly string[]): Promise<Map<string, ThrottleEntry>> {
    const rows = await this.sql()`SELECT key, failures, last_failure FROM throttle WHERE key IN ${this.sql()(keys as string[])}`;
    return new Map(rows.map((r: { key: string; failures: number; last_failure: string }) => [r.key, { failures: Number(r.failures), last: Number(r.last_failure) }]));
  }

  /**
   * One statement per key: the upsert takes the row's lock, so failures on several nodes at
   * once all count (none is lost to a read-then-write race).
   */
  async failure(keys: readonly string[], at: Millis, forgetAfterMs: Millis): Promise<void> {
    const sql = this.sql();
    for (const key of keys) {
      await sql`
        INSERT INTO throttle (key, failures, last_failure) VALUES (${key}, 1, ${at})
        ON CONFLICT (key) DO UPDATE SET
          failures = CASE WHEN ${at}::bigint - throttle.last_failure < ${forgetAfterMs}::bigint THEN throttle.failures + 1 ELSE 1 END,
          last_failure = GREATEST(throttle.last_failure, ${at}::bigint)`;
    }
    if (++this.#failures % PRUNE_EVERY === 0) await sql`DELETE FROM throttle WHERE last_failure < ${at - forgetAfterMs}`;
  }

  async clear(key: string): Promise<void> {
    await this.sql()`DELETE FROM throttle WHERE key = ${key}`;
  }
}
