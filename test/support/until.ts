/** Polling for test state that has no event to await (files removed, counters released, a process gone). */

/** Polls `condition` until it holds or the deadline passes; throws "timed out waiting for `what`". */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Polls `check` until it returns a value (not null, undefined or false) and returns it; throws "timed out waiting for `what`". */
export async function untilValue<T>(check: () => T | null | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}
