/** Tests of SendBuffers: a sent frame buffer is reused only once the outbox's backlog shows the socket took it. */
import { expect, test } from "bun:test";
import { SendBuffers } from "../../src/client/send-buffers.ts";

test("a buffer comes back only when the backlog is smaller than what was queued after it (FIFO outbox)", () => {
  const buffers = new SendBuffers(100);
  const a = buffers.take();
  const b = buffers.take();
  expect(a.length).toBe(100);
  expect(a.buffer).not.toBe(b.buffer);
  buffers.sent(a.subarray(0, 60), 60); // nothing taken by the socket yet
  expect(buffers.take().buffer).not.toBe(a.buffer);
  buffers.sent(b.subarray(0, 100), 100); // only b is still queued: a is free
  const c = buffers.take();
  expect(c.buffer).toBe(a.buffer);
  // b is still partly queued: not handed out.
  expect(buffers.take().buffer).not.toBe(b.buffer);
});

test("with everything taken by the socket, every sent buffer is reused, so a long stream needs only a few", () => {
  const buffers = new SendBuffers(64);
  const seen = new Set<ArrayBufferLike>();
  for (let i = 0; i < 1000; i++) {
    const frame = buffers.take();
    seen.add(frame.buffer);
    buffers.sent(frame.subarray(0, 64), i % 3 === 0 ? 64 : 0);
  }
  expect(seen.size).toBeLessThanOrEqual(3);
});
