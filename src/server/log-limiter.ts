/** A logger for events a peer can cause at will (refused handshakes, revocations): at most one line per message per interval. */
import type { Logger } from "./logger.ts";

export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Lines with the same message within `intervalMs` of the last one written are
 * counted, not written; the next line written says how many were dropped
 * (`suppressed=N`). Fields must never carry secrets: addresses, codes, serials.
 */
export function rateLimited(log: Logger, intervalMs = REFUSAL_LOG_INTERVAL_MS, now: () => number = Date.now): Logger {
  const last = new Map<string, { at: number; suppressed: number }>();
  const gate = (level: keyof Logger) => (message: string, fields?: Record<string, unknown>) => {
    const key = `${level} ${message}`;
    const seen = last.get(key);
    const t = now();
    if (seen && t - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const extra = seen && seen.suppressed > 0 ? { suppressed: seen.suppressed } : {};
    last.set(key, { at: t, suppressed: 0 });
    // Bounded: messages are a fixed set of literals in our code.
    log[level](message, { ...fields, ...extra });
  };
  return { debug: gate("debug"), info: gate("info"), warn: gate("warn"), error: gate("error") };
}
