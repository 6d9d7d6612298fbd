/** RateGate (PROTOCOL.md M26 on the client): which refusals are waited out, that posts refused together share one wait, and the line it prints. */
import { describe, expect, test } from "bun:test";
import { RemoteError } from "../../src/client/errors.ts";
import { MAX_RATE_WAIT_S, RateGate, rateWaitLine, type RateWait } from "../../src/client/rate-wait.ts";

const limited = (seconds: number) => new RemoteError("RATE_LIMITED", `this server takes at most 5 posts a minute per user; try again in ${seconds} s`, seconds, 7);

describe("RateGate", () => {
  test("waits out RATE_LIMITED with retryAfter; posts refused together share the one wait, told once", async () => {
    const told: RateWait[] = [];
    const gate = new RateGate((w) => told.push(w));
    const [a, b] = await Promise.all([gate.waitOut(limited(1), 4), gate.waitOut(limited(1), 3)]);
    expect([a, b]).toEqual([true, true]);
    expect(told).toEqual([{ seconds: 1, message: limited(1).message, first: true, left: 4 }]);
    await gate.open(); // nothing under way any more
  });

  test("does not wait for other errors, a refusal without retryAfter, or a wait beyond the bound", async () => {
    const told: RateWait[] = [];
    const gate = new RateGate((w) => told.push(w));
    expect(await gate.waitOut(new RemoteError("NAME_TAKEN", "taken"))).toBe(false);
    expect(await gate.waitOut(new RemoteError("RATE_LIMITED", "slow down"))).toBe(false);
    expect(await gate.waitOut(new Error("boom"))).toBe(false);
    expect(await gate.waitOut(limited(MAX_RATE_WAIT_S + 1))).toBe(false);
    expect(told).toEqual([]);
  });

  test("the line: the server's limit, the wait and the files left, without the server's own 'try again'", () => {
    expect(rateWaitLine({ seconds: 23, message: limited(23).message, first: true, left: 79 })).toBe("sis: the server takes at most 5 posts a minute per user; waiting 23 s, then going on with 79 more\n");
    expect(rateWaitLine({ seconds: 4, message: limited(4).message, first: true, left: 1 })).toBe("sis: the server takes at most 5 posts a minute per user; waiting 4 s, then trying again\n");
  });
});
