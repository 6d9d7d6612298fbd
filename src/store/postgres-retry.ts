/** When a PostgreSQL call is tried again (a lost connection, a retry the server asked for) and how: the store's one retry loop. */

/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = "23505";

/**
 * Failures after which the same call is tried again on a fresh connection:
 * the connection was lost (killed backend, restarted server, network) or the
 * server asked for a retry (serialization failure, deadlock).
 */
function retryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: string };
  if (typeof e?.errno === "string" && /^(08|57P|40001|40P01)/.test(e.errno)) return true;
  return typeof e?.code === "string" && /^ERR_POSTGRES_(CONNECTION_CLOSED|CONNECTION_REFUSED|CONNECTION_TIMEOUT|IDLE_TIMEOUT|LIFETIME_TIMEOUT)$/.test(e.code);
}

/** A unique violation: the row (a name, a serial, an id) exists. */
export function isConflict(err: unknown): boolean {
  return (err as { errno?: string })?.errno === UNIQUE_VIOLATION;
}

/** Runs `fn`, again on a fresh connection after a lost one (back-off 25 ms doubling to 500 ms) until `retryForMs` has passed; `first` is false on a repeat. */
export async function withRetry<T>(retryForMs: number, fn: (first: boolean) => Promise<T>): Promise<T> {
  const deadline = Date.now() + retryForMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt === 0);
    } catch (err) {
      if (!retryable(err) || Date.now() >= deadline) throw err;
      await Bun.sleep(Math.min(500, 25 * 2 ** attempt));
    }
  }
}
