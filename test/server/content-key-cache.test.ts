/** ContentKeyCache: one unwrap for all receivers of an image, never a key for other wrapped bytes, zeroed when it leaves. */
import { describe, expect, test } from "bun:test";
import { ContentKeyCache } from "../../src/server/content-key-cache.ts";

function counting(fail = false) {
  const calls: Uint8Array[] = [];
  const keys: Uint8Array[] = [];
  const unwrap = async (wrapped: Uint8Array) => {
    calls.push(wrapped);
    await Bun.sleep(1);
    if (fail) throw new Error("does not unwrap");
    const key = new Uint8Array(32).fill(wrapped[0]!);
    keys.push(key);
    return key;
  };
  return { calls, keys, unwrap };
}

const W1 = new Uint8Array([1, 1, 1]);
const W2 = new Uint8Array([2, 2, 2]);

describe("ContentKeyCache", () => {
  test("concurrent and later requests for one image share one unwrap and each get their own copy", async () => {
    const u = counting();
    const cache = new ContentKeyCache(u.unwrap);
    const keys = await Promise.all(Array.from({ length: 50 }, () => cache.get("a".repeat(32), W1)));
    keys.push(await cache.get("a".repeat(32), W1));
    expect(u.calls.length).toBe(1);
    expect(keys.every((k) => k.length === 32 && k[0] === 1)).toBe(true);
    keys[0]!.fill(0);
    expect((await cache.get("a".repeat(32), W1))[0]).toBe(1);
  });

  test("the same id with other wrapped bytes is unwrapped again, never answered from the cache", async () => {
    const u = counting();
    const cache = new ContentKeyCache(u.unwrap);
    await cache.get("b".repeat(32), W1);
    expect((await cache.get("b".repeat(32), W2))[0]).toBe(2);
    expect(u.calls.length).toBe(2);
  });

  test("a failed unwrap is reported and not remembered", async () => {
    const u = counting(true);
    const cache = new ContentKeyCache(u.unwrap);
    await expect(cache.get("c".repeat(32), W1)).rejects.toThrow("does not unwrap");
    await expect(cache.get("c".repeat(32), W1)).rejects.toThrow("does not unwrap");
    expect(u.calls.length).toBe(2);
    expect(cache.size).toBe(0);
  });

  test("entries expire after the TTL and the oldest leave first beyond the bound, zeroed", async () => {
    const u = counting();
    let now = 1_000;
    const cache = new ContentKeyCache(u.unwrap, 2, 100, () => now);
    await cache.get("1".repeat(32), W1);
    await cache.get("2".repeat(32), W1);
    await cache.get("3".repeat(32), W1);
    expect(cache.size).toBe(2);
    await Bun.sleep(0);
    expect(u.keys[0]!.every((b) => b === 0)).toBe(true);
    now += 101;
    await cache.get("4".repeat(32), W2);
    expect(cache.size).toBe(1);
    await Bun.sleep(0);
    expect(u.keys.slice(0, 3).every((k) => k.every((b) => b === 0))).toBe(true);
    cache.clear();
    await Bun.sleep(0);
    expect(u.keys[3]!.every((b) => b === 0)).toBe(true);
  });

  test("sweep() drops and zeroes expired keys without waiting for another download", async () => {
    const u = counting();
    let now = 1_000;
    const cache = new ContentKeyCache(u.unwrap, 8, 100, () => now);
    await cache.get("1".repeat(32), W1);
    cache.sweep();
    expect(cache.size).toBe(1);
    now += 101;
    cache.sweep();
    expect(cache.size).toBe(0);
    await Bun.sleep(0);
    expect(u.keys[0]!.every((b) => b === 0)).toBe(true);
  });
});
