/** LoginThrottle (P17) with an injected clock: thresholds, exponential back-off, cap, reset, forgetting. */
import { describe, expect, test } from "bun:test";
import { addressPrefix, LoginThrottle } from "../../src/server/throttle.ts";

function clocked(start = 1_700_000_000_000) {
  const clock = { now: start };
  const throttle = new LoginThrottle(() => clock.now);
  return {
    throttle,
    advance: (ms: number) => void (clock.now += ms),
    fail: (user: string, address = "10.0.0.1", times = 1) => {
      for (let i = 0; i < times; i++) throttle.recordFailure(user, address);
    },
  };
}

describe("LoginThrottle", () => {
  test("two failures for a username do not throttle it yet", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 2);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
  });

  test("the third consecutive failure for a username makes it wait one second", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 3);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(1);
    // The username is throttled from any address, the address only for this username so far.
    expect(t.throttle.retryAfter("alice", "10.9.9.9")).toBe(1);
    expect(t.throttle.retryAfter("bob", "10.0.0.1")).toBe(0);
  });

  test("the wait doubles with every further failure: 2^(failures - 3) seconds", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 3);
    const waits: number[] = [t.throttle.retryAfter("alice", "10.0.0.1")];
    for (let i = 0; i < 4; i++) {
      t.fail("alice", `10.0.1.${i}`);
      waits.push(t.throttle.retryAfter("alice", "10.0.0.1"));
    }
    expect(waits).toEqual([1, 2, 4, 8, 16]);
  });

  test("the wait is never more than 900 seconds", () => {
    const t = clocked();
    for (let i = 0; i < 40; i++) t.fail("alice", `10.0.${i}.1`);
    expect(t.throttle.retryAfter("alice", "10.200.0.1")).toBe(900);
  });

  test("the wait counts down from the last failure and ends when it has passed", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 5); // 2^2 = 4 s
    t.advance(2_500);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(2); // 1.5 s left, rounded up
    t.advance(1_499);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(1);
    t.advance(1);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
  });

  test("a failure after the wait has passed still counts: the back-off keeps growing", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 3);
    t.advance(1_000);
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
    t.fail("alice");
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(2);
  });

  test("a success clears the username's counter", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 2);
    t.throttle.recordSuccess("alice");
    t.fail("alice", "10.0.0.1", 2);
    expect(t.throttle.retryAfter("alice", "10.0.0.2")).toBe(0);
  });

  test("a success for one username does not clear the address counter", () => {
    const t = clocked();
    for (let i = 0; i < 10; i++) t.fail(`user${i}`, "10.0.0.1");
    t.throttle.recordSuccess("user9");
    expect(t.throttle.retryAfter("user9", "10.0.0.1")).toBe(1);
  });

  test("ten failures from one address throttle every username from it and its network, and only from them", () => {
    const t = clocked();
    for (let i = 0; i < 9; i++) t.fail(`user${i}`, "10.0.0.1");
    expect(t.throttle.retryAfter("newcomer", "10.0.0.1")).toBe(0);
    t.fail("user9", "10.0.0.1");
    expect(t.throttle.retryAfter("newcomer", "10.0.0.1")).toBe(1);
    // M15: the counter is the /24's; another network is not affected.
    expect(t.throttle.retryAfter("newcomer", "10.0.0.2")).toBe(1);
    expect(t.throttle.retryAfter("newcomer", "10.0.1.2")).toBe(0);
  });

  test("M15: hopping addresses within a /24 or an IPv6 /64 does not escape the address counter", () => {
    const t = clocked();
    for (let i = 0; i < 10; i++) t.fail(`v4user${i}`, `192.0.2.${i + 1}`);
    expect(t.throttle.retryAfter("newcomer", "192.0.2.200")).toBe(1);
    expect(t.throttle.retryAfter("newcomer", "::ffff:192.0.2.201")).toBe(1);
    for (let i = 0; i < 10; i++) t.fail(`v6user${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
    expect(t.throttle.retryAfter("newcomer", "2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(1);
    expect(t.throttle.retryAfter("newcomer", "2001:0db8:0001:0002:0:0:0:9")).toBe(1);
    expect(t.throttle.retryAfter("newcomer", "2001:db8:1:3::1")).toBe(0);
    expect(addressPrefix("::1")).toBe("0:0:0:0::/64");
    expect(addressPrefix("127.0.0.1")).toBe("127.0.0.0/24");
  });

  test("the longer of the username wait and the address wait applies", () => {
    const t = clocked();
    for (let i = 0; i < 12; i++) t.fail(`user${i}`, "10.0.0.1"); // address: 2^2 = 4 s
    t.fail("alice", "10.0.1.2", 4); // alice: 2^1 = 2 s (from another /24, M15)
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(4);
    expect(t.throttle.retryAfter("alice", "10.0.1.2")).toBe(2);
  });

  test("failures are forgotten half an hour after the last one", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 20);
    t.advance(1_800_000);
    t.fail("alice");
    t.fail("alice");
    // Counting started again from one: two failures do not throttle.
    expect(t.throttle.retryAfter("alice", "10.0.0.1")).toBe(0);
  });
});

describe("LoginThrottle for PASSWD (M15)", () => {
  test("counted per certificate: a username's REGISTER failures never delay a device's PASSWD, and a device's failures delay only it", () => {
    const t = clocked();
    t.fail("alice", "10.0.0.1", 20);
    expect(t.throttle.retryAfter("alice", "10.9.9.9")).toBeGreaterThan(0);
    expect(t.throttle.passwdRetryAfter("0a01")).toBe(0);
    for (let i = 0; i < 3; i++) t.throttle.passwdResult("0a01", false);
    expect(t.throttle.passwdRetryAfter("0a01")).toBe(1);
    expect(t.throttle.passwdRetryAfter("0b02")).toBe(0);
    t.throttle.passwdResult("0a01", true);
    expect(t.throttle.passwdRetryAfter("0a01")).toBe(0);
  });
});
