/** LoginThrottle (P17, M15) with an injected clock: thresholds, exponential back-off, cap, reset, forgetting; over the in-memory counters and PostgreSQL's (ports.ts ST10). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ThrottleCounters } from "../../src/server/ports.ts";
import { addressPrefix, LoginThrottle } from "../../src/server/throttle.ts";
import { MemoryThrottleCounters } from "../../src/server/throttle-memory.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";

let pg: PostgresServer;
const opened: PostgresStore[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  for (const s of opened) await s.close();
  await pg?.stop();
});

/** A fresh PostgreSQL schema and `n` store handles on it: n nodes sharing the counters. */
async function postgresCounters(n = 1): Promise<PostgresStore[]> {
  const { url, schema } = await pg.newSchema();
  const stores = await Promise.all(Array.from({ length: n }, () => PostgresStore.open(url, { max: 2, schema })));
  opened.push(...stores);
  return stores;
}

function suite(name: string, make: () => Promise<ThrottleCounters>): void {
  async function clocked(start = 1_700_000_000_000) {
    const clock = { now: start };
    const throttle = new LoginThrottle(() => clock.now, await make());
    return {
      throttle,
      advance: (ms: number) => void (clock.now += ms),
      fail: async (user: string, address = "10.0.0.1", times = 1) => {
        for (let i = 0; i < times; i++) await throttle.recordFailure(user, address);
      },
    };
  }

  describe(`LoginThrottle (${name})`, () => {
    test("two failures for a username do not throttle it yet", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 2);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
    });

    test("the third consecutive failure for a username makes it wait one second", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 3);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(1);
      // The username is throttled from any address, the address only for this username so far.
      expect(await t.throttle.retryAfter("alice", "10.9.9.9")).toBe(1);
      expect(await t.throttle.retryAfter("bob", "10.0.0.1")).toBe(0);
    });

    test("the wait doubles with every further failure: 2^(failures - 3) seconds", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 3);
      const waits: number[] = [await t.throttle.retryAfter("alice", "10.0.0.1")];
      for (let i = 0; i < 4; i++) {
        await t.fail("alice", `10.0.1.${i}`);
        waits.push(await t.throttle.retryAfter("alice", "10.0.0.1"));
      }
      expect(waits).toEqual([1, 2, 4, 8, 16]);
    });

    test("the wait is never more than 900 seconds", async () => {
      const t = await clocked();
      for (let i = 0; i < 40; i++) await t.fail("alice", `10.0.${i}.1`);
      expect(await t.throttle.retryAfter("alice", "10.200.0.1")).toBe(900);
    });

    test("the wait counts down from the last failure and ends when it has passed", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 5); // 2^2 = 4 s
      t.advance(2_500);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(2); // 1.5 s left, rounded up
      t.advance(1_499);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(1);
      t.advance(1);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
    });

    test("a failure after the wait has passed still counts: the back-off keeps growing", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 3);
      t.advance(1_000);
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
      await t.fail("alice");
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(2);
    });

    test("a success clears the username's counter", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 2);
      await t.throttle.recordSuccess("alice");
      await t.fail("alice", "10.0.0.1", 2);
      expect(await t.throttle.retryAfter("alice", "10.0.0.2")).toBe(0);
    });

    test("a success for one username does not clear the address counter", async () => {
      const t = await clocked();
      for (let i = 0; i < 10; i++) await t.fail(`user${i}`, "10.0.0.1");
      await t.throttle.recordSuccess("user9");
      expect(await t.throttle.retryAfter("user9", "10.0.0.1")).toBe(1);
    });

    test("ten failures from one address throttle every username from it and its network, and only from them", async () => {
      const t = await clocked();
      for (let i = 0; i < 9; i++) await t.fail(`user${i}`, "10.0.0.1");
      expect(await t.throttle.retryAfter("newcomer", "10.0.0.1")).toBe(0);
      await t.fail("user9", "10.0.0.1");
      expect(await t.throttle.retryAfter("newcomer", "10.0.0.1")).toBe(1);
      // M15: the counter is the /24's; another network is not affected.
      expect(await t.throttle.retryAfter("newcomer", "10.0.0.2")).toBe(1);
      expect(await t.throttle.retryAfter("newcomer", "10.0.1.2")).toBe(0);
    });

    test("M15: hopping addresses within a /24 or an IPv6 /64 does not escape the address counter", async () => {
      const t = await clocked();
      for (let i = 0; i < 10; i++) await t.fail(`v4user${i}`, `192.0.2.${i + 1}`);
      expect(await t.throttle.retryAfter("newcomer", "192.0.2.200")).toBe(1);
      expect(await t.throttle.retryAfter("newcomer", "::ffff:192.0.2.201")).toBe(1);
      for (let i = 0; i < 10; i++) await t.fail(`v6user${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
      expect(await t.throttle.retryAfter("newcomer", "2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(1);
      expect(await t.throttle.retryAfter("newcomer", "2001:0db8:0001:0002:0:0:0:9")).toBe(1);
      expect(await t.throttle.retryAfter("newcomer", "2001:db8:1:3::1")).toBe(0);
      expect(addressPrefix("::1")).toBe("0:0:0:0::/64");
      expect(addressPrefix("127.0.0.1")).toBe("127.0.0.0/24");
    });

    test("the longer of the username wait and the address wait applies", async () => {
      const t = await clocked();
      for (let i = 0; i < 12; i++) await t.fail(`user${i}`, "10.0.0.1"); // address: 2^2 = 4 s
      await t.fail("alice", "10.0.1.2", 4); // alice: 2^1 = 2 s (from another /24, M15)
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(4);
      expect(await t.throttle.retryAfter("alice", "10.0.1.2")).toBe(2);
    });

    test("failures are forgotten half an hour after the last one", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 20);
      t.advance(1_800_000);
      await t.fail("alice");
      await t.fail("alice");
      // Counting started again from one: two failures do not throttle.
      expect(await t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
    });
  });

  describe(`LoginThrottle for PASSWD (M15, ${name})`, () => {
    test("counted per certificate: a username's REGISTER failures never delay a device's PASSWD, and a device's failures delay only it", async () => {
      const t = await clocked();
      await t.fail("alice", "10.0.0.1", 20);
      expect(await t.throttle.retryAfter("alice", "10.9.9.9")).toBeGreaterThan(0);
      expect(await t.throttle.passwdRetryAfter("0a01")).toBe(0);
      for (let i = 0; i < 3; i++) await t.throttle.passwdResult("0a01", false);
      expect(await t.throttle.passwdRetryAfter("0a01")).toBe(1);
      expect(await t.throttle.passwdRetryAfter("0b02")).toBe(0);
      await t.throttle.passwdResult("0a01", true);
      expect(await t.throttle.passwdRetryAfter("0a01")).toBe(0);
    });
  });
}

suite("in memory", async () => new MemoryThrottleCounters());
suite("PostgreSQL", async () => (await postgresCounters())[0]!);

describe("LoginThrottle on several nodes (ST10)", () => {
  test("wrong passwords spread over three nodes on one PostgreSQL are throttled at one node's count", async () => {
    const nodes = await postgresCounters(3);
    const now = 1_700_000_000_000;
    const throttles = nodes.map((n) => new LoginThrottle(() => now, n));
    // The first two failures, on nodes 0 and 1, throttle nothing yet; the third, on node 2, throttles alice everywhere.
    await throttles[0]!.recordFailure("alice", "10.0.0.1");
    await throttles[1]!.recordFailure("alice", "10.0.0.2");
    for (const t of throttles) expect(await t.retryAfter("alice", "10.7.0.1")).toBe(0);
    await throttles[2]!.recordFailure("alice", "10.0.0.3");
    for (const t of throttles) expect(await t.retryAfter("alice", "10.7.0.1")).toBe(1);
    // A success on one node clears the name on every node.
    await throttles[1]!.recordSuccess("alice");
    for (const t of throttles) expect(await t.retryAfter("alice", "10.7.0.1")).toBe(0);
  });

  test("failures recorded on two nodes at once all count: none is lost to a race", async () => {
    const nodes = await postgresCounters(2);
    const now = 1_700_000_000_000;
    const [a, b] = nodes.map((n) => new LoginThrottle(() => now, n));
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a! : b!).passwdResult("0c03", false)));
    expect((await nodes[0]!.throttleEntries(["c:0c03"])).get("c:0c03")).toEqual({ failures: 20, last: now });
    // 2^(20 - 3) s is above the cap.
    expect(await a!.passwdRetryAfter("0c03")).toBe(900);
  });

  test("in memory, each process counts alone: two instances are two nodes' counts (why PostgreSQL keeps them)", async () => {
    const now = 1_700_000_000_000;
    const [a, b] = [new LoginThrottle(() => now), new LoginThrottle(() => now)];
    await a.recordFailure("alice", "10.0.0.1");
    await a.recordFailure("alice", "10.0.0.1");
    await b.recordFailure("alice", "10.0.0.1");
    expect(await a.retryAfter("alice", "10.0.0.1")).toBe(0);
    expect(await b.retryAfter("alice", "10.0.0.1")).toBe(0);
  });
});
