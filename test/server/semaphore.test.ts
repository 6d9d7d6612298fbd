/** Semaphore: bounded concurrency, FIFO hand-over, refusal when the queue is full, release on failure. */
import { describe, expect, test } from "bun:test";
import { Semaphore } from "../../src/server/semaphore.ts";

/** A task the test finishes by hand. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

/** Lets queued promise callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("Semaphore", () => {
  test("run() returns what the task returns", async () => {
    const s = new Semaphore(1, 1);
    expect(await s.run(async () => 42)).toBe(42);
  });

  test("no more than `permits` tasks run at once", async () => {
    const s = new Semaphore(2, 10);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 5 }, () => gate());
    const runs = gates.map((g) =>
      s.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
      }),
    );
    await settle();
    expect(running).toBe(2);
    for (const g of gates) {
      g.open();
      await settle();
    }
    await Promise.all(runs);
    expect(peak).toBe(2);
    expect(running).toBe(0);
  });

  test("waiting tasks start in the order they asked", async () => {
    const s = new Semaphore(1, 10);
    const first = gate();
    const order: number[] = [];
    const runs = [s.run(() => first.promise)];
    for (let i = 1; i <= 3; i++) runs.push(s.run(async () => void order.push(i)));
    await settle();
    expect(order).toEqual([]);
    first.open();
    await Promise.all(runs);
    expect(order).toEqual([1, 2, 3]);
  });

  test("run() refuses at once with null when the wait queue is full", async () => {
    const s = new Semaphore(1, 1);
    const busy = gate();
    const a = s.run(() => busy.promise);
    const b = s.run(async () => "queued");
    let ran = false;
    const refused = await s.run(async () => {
      ran = true;
      return "never";
    });
    expect(refused).toBeNull();
    expect(ran).toBe(false);
    busy.open();
    await a;
    expect(await b).toBe("queued");
  });

  test("a task that throws gives its permit back and the error to its caller", async () => {
    const s = new Semaphore(1, 0);
    await expect(s.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    // With no queue at all, a leaked permit would turn this into a refusal (null).
    expect(await s.run(async () => "after")).toBe("after");
  });

  test("a permit freed while others wait is handed over, so the count never goes above the limit", async () => {
    const s = new Semaphore(1, 5);
    const g1 = gate();
    const g2 = gate();
    let running = 0;
    let peak = 0;
    const task = (g: { promise: Promise<void> }) => async () => {
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
    };
    const r1 = s.run(task(g1));
    const r2 = s.run(task(g2));
    g1.open();
    await r1;
    // Someone new arrives right as the permit is handed over: it must wait, not run alongside.
    const g3 = gate();
    const r3 = s.run(task(g3));
    await settle();
    expect(running).toBe(1);
    g2.open();
    g3.open();
    await Promise.all([r2, r3]);
    expect(peak).toBe(1);
  });
});
