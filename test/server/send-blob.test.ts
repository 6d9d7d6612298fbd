/** sendBlob(): a blob leaves as data frames read into reused buffers, byte-exact even when the socket takes partial writes. */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { DATA, encodeMessage, FrameDecoder, MAX_DATA_FRAME, Outbox, type Frame } from "../../src/protocol/index.ts";
import type { BlobReader } from "../../src/server/ports.ts";
import { sendBlob, type FrameSink } from "../../src/server/send-blob.ts";

function memoryReader(data: Uint8Array): BlobReader & { reads: number } {
  let pos = 0;
  return {
    reads: 0,
    async readInto(target) {
      this.reads++;
      const n = Math.min(target.byteLength, data.byteLength - pos);
      target.set(data.subarray(pos, pos + n));
      pos += n;
      return n;
    },
    async close() {},
  };
}

/**
 * A socket that takes a random part of each write and copies exactly that
 * part at that moment, as a kernel or TLS buffer would: if sendBlob reused a
 * buffer the outbox still held, the bytes on the "wire" would be wrong.
 */
function partialSocket(seed: number) {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const wire: Uint8Array[] = [];
  let full = false;
  return {
    wire,
    socket: {
      write(data: Uint8Array): number {
        if (full) return 0;
        const take = rand() < 0.3 ? data.byteLength : Math.floor(rand() * data.byteLength);
        wire.push(data.slice(0, take));
        if (take < data.byteLength) full = true;
        return take;
      },
      end() {},
    },
    /** Drain events until the outbox is empty, as the socket's drain handler would fire. */
    drainLater(outbox: Outbox) {
      const drain = () => {
        full = false;
        outbox.flush();
        if (outbox.backlog > 0) setTimeout(drain, 0);
      };
      setTimeout(drain, 0);
    },
  };
}

function sinkOver(outbox: Outbox, onBlocked: () => void): FrameSink & { pushes: number } {
  return {
    pushes: 0,
    closed: false,
    get backlog() {
      return outbox.backlog;
    },
    sendFrame(frame) {
      outbox.send(frame);
      // Someone else's frame between ours, as a NEW_IMAGE push would be.
      if (this.pushes++ % 3 === 0) outbox.send(encodeMessage({ type: "PONG" }));
    },
    below(limit) {
      onBlocked();
      return outbox.below(limit);
    },
  };
}

function decodeAll(wire: Uint8Array[]): Frame[] {
  const decoder = new FrameDecoder();
  return wire.flatMap((chunk) => decoder.push(chunk));
}

describe("sendBlob()", () => {
  for (const size of [1, MAX_DATA_FRAME, MAX_DATA_FRAME + 1, 5 * MAX_DATA_FRAME + 12_345]) {
    test(`a ${size}-byte blob arrives byte-exact through partial writes`, async () => {
      const data = new Uint8Array(randomBytes(size));
      const sock = partialSocket(size);
      const outbox = new Outbox(sock.socket);
      const sink = sinkOver(outbox, () => sock.drainLater(outbox));
      const result = await sendBlob(sink, memoryReader(data), size, 300_000);
      sock.drainLater(outbox);
      await outbox.below(0);
      expect(result).toEqual({ sent: size, extra: false });
      const frames = decodeAll(sock.wire).filter((f) => f.kind === DATA);
      expect(frames.every((f) => f.payload.byteLength <= MAX_DATA_FRAME)).toBe(true);
      expect(Buffer.concat(frames.map((f) => f.payload)).equals(Buffer.from(data))).toBe(true);
    });
  }

  test("a blob shorter than its record stops early; a longer one is reported", async () => {
    const data = new Uint8Array(randomBytes(1000));
    const sink = sinkOver(new Outbox({ write: (d) => d.byteLength, end() {} }), () => {});
    expect(await sendBlob(sink, memoryReader(data), 1500)).toEqual({ sent: 1000, extra: false });
    expect(await sendBlob(sink, memoryReader(data), 999)).toEqual({ sent: 999, extra: true });
  });

  test("reuses its frame buffers when the socket keeps up", async () => {
    const buffers = new Set<ArrayBufferLike>();
    const sink: FrameSink = { closed: false, backlog: 0, sendFrame: (f) => void buffers.add(f.buffer), below: async () => {} };
    await sendBlob(sink, memoryReader(new Uint8Array(20 * MAX_DATA_FRAME)), 20 * MAX_DATA_FRAME);
    expect(buffers.size).toBe(1);
  });
});
