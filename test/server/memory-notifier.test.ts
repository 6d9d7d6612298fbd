/** MemoryNotifier: the shared Notifier contract, then its own error reporting. */
import { expect, spyOn, test } from "bun:test";
import { MemoryNotifier } from "../../src/server/memory-notifier.ts";
import { EVENT, runNotifierContract } from "./notifier-contract.ts";

runNotifierContract("MemoryNotifier", (onError) => new MemoryNotifier(onError));

test("MemoryNotifier logs a failing listener by default and keeps delivering", () => {
  const log = spyOn(console, "error").mockImplementation(() => {});
  try {
    const n = new MemoryNotifier();
    let delivered = 0;
    n.subscribe(() => {
      throw new Error("boom");
    });
    n.subscribe(() => void delivered++);
    n.publish(EVENT);
    expect(delivered).toBe(1);
    expect(log).toHaveBeenCalledTimes(1);
  } finally {
    log.mockRestore();
  }
});

test("MemoryNotifier survives an error handler that itself throws", () => {
  const n = new MemoryNotifier(() => {
    throw new Error("handler broke");
  });
  let delivered = 0;
  n.subscribe(() => {
    throw new Error("boom");
  });
  n.subscribe(() => void delivered++);
  expect(() => n.publish(EVENT)).not.toThrow();
  expect(delivered).toBe(1);
});

test("MemoryNotifier.size counts live subscriptions", () => {
  const n = new MemoryNotifier();
  const off = n.subscribe(() => {});
  n.subscribe(() => {});
  expect(n.size).toBe(2);
  off();
  expect(n.size).toBe(1);
});
