/** Tests of the server's PayloadPool: upload payload buffers reused, bounded, and freed when the upload ends. */
import { expect, test } from "bun:test";
import { PayloadPool } from "../../src/server/payload-pool.ts";

test("a payload given back is the buffer of the next take() that fits; a foreign or twice-given one is ignored", () => {
  const pool = new PayloadPool();
  const a = pool.take(65_552);
  expect(a.length).toBe(65_552);
  pool.give(a);
  pool.give(a);
  pool.give(new Uint8Array(65_552));
  const b = pool.take(1000);
  expect(b.buffer).toBe(a.buffer);
  expect(b.length).toBe(1000);
  // Nothing else was kept: the next take is a new buffer.
  expect(pool.take(1000).buffer).not.toBe(a.buffer);
});

test("a free buffer too small for the payload is dropped, so the pool never holds more than was in flight", () => {
  const pool = new PayloadPool();
  const small = pool.take(10);
  pool.give(small);
  const big = pool.take(65_552);
  expect(big.buffer).not.toBe(small.buffer);
  pool.give(big);
  expect(pool.take(65_552).buffer).toBe(big.buffer);
  expect(pool.take(10).buffer).not.toBe(small.buffer);
});

test("clear() frees the free buffers at once (detached) and leaves payloads still in use alone", () => {
  const pool = new PayloadPool();
  const done = pool.take(4096);
  const inUse = pool.take(4096);
  inUse.fill(7);
  pool.give(done);
  pool.clear();
  expect(done.buffer.byteLength).toBe(0);
  expect(inUse.buffer.byteLength).toBe(4096);
  expect(inUse.every((b) => b === 7)).toBe(true);
  expect(pool.take(4096).buffer).not.toBe(done.buffer);
});
