/** Waits that end as soon as an AbortSignal aborts (sis watch stopped by Ctrl-C or its caller). */
import type { Connection } from "./connection.ts";

/** The promise's value, or null as soon as the signal aborts (a late value is closed if it is a connection). */
export async function untilAborted(promise: Promise<Connection>, signal?: AbortSignal): Promise<Connection | null> {
  if (!signal) return promise;
  if (signal.aborted) {
    void promise.then((c) => c.close(), () => {});
    return null;
  }
  return new Promise<Connection | null>((resolve, reject) => {
    const onAbort = () => {
      void promise.then((c) => c.close(), () => {});
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (c) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) c.close();
        resolve(signal.aborted ? null : c);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) resolve(null);
        else reject(e);
      },
    );
  });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
