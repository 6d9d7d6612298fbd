/** A check that runs every so often and on demand, one at a time: the renewals of RN8 and T1 use it. */

export interface PeriodicCheck {
  /** One check now, or the one under way; never two at once. */
  check(now?: number): Promise<void>;
  /** No more checks on the timer; `stopped` is true from now on. */
  stop(): void;
  readonly stopped: boolean;
}

/** Runs `once` every `everyMs` (the timer does not keep the process alive) and on `check()`; `once` must not reject. */
export function periodicCheck(once: (now: number) => Promise<void>, everyMs: number): PeriodicCheck {
  let running: Promise<void> | null = null;
  let stopped = false;
  const check = (now = Date.now()): Promise<void> => {
    running ??= once(now).finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void check(), everyMs);
  timer.unref();
  return {
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    get stopped() {
      return stopped;
    },
  };
}
