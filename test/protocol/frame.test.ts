/** Tests of the frame layout and the incremental FrameDecoder against PROTOCOL.md section 2 (P6). */
import { describe, expect, test } from "bun:test";
import {
  CONTROL,
  DATA,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  MAX_CONTROL_FRAME,
  MAX_DATA_FRAME,
  ProtocolError,
  encodeFrame,
  encodeFrameInPlace,
  maxPayload,
  type Frame,
} from "../../src/protocol/index.ts";

/** A 5-byte frame header with any kind and length, valid or not. */
function header(kind: number, length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_SIZE);
  h[0] = kind;
  new DataView(h.buffer).setUint32(1, length, false);
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Deterministic bytes, so a failing comparison shows the same data every run. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17) & 0xff;
  return out;
}

/** The ProtocolError code `fn` throws; any other throwable fails the test. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return "no error";
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Feeds `pieces` one push at a time and collects every frame. */
function feed(decoder: FrameDecoder, pieces: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  for (const p of pieces) out.push(...decoder.push(p));
  return out;
}

describe("encodeFrame()", () => {
  test("encodeFrame() writes kind, a big-endian u32 length and the payload (P6)", () => {
    const payload = bytes(300);
    const frame = encodeFrame(DATA, payload);
    expect(frame.length).toBe(FRAME_HEADER_SIZE + 300);
    expect(frame[0]).toBe(0x02);
    expect([...frame.subarray(1, 5)]).toEqual([0x00, 0x00, 0x01, 0x2c]);
    expect(same(frame.subarray(5), payload)).toBe(true);
    expect(encodeFrame(CONTROL, new Uint8Array([0x7b]))[0]).toBe(0x01);
  });

  test("encodeFrame() refuses an empty payload of either kind, as a receiver would (P6)", () => {
    expect(() => encodeFrame(CONTROL, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeFrame(DATA, new Uint8Array(0))).toThrow(RangeError);
  });

  test("encodeFrame() accepts payloads of exactly the limit and refuses one byte more (P6)", () => {
    expect(encodeFrame(CONTROL, new Uint8Array(MAX_CONTROL_FRAME)).length).toBe(FRAME_HEADER_SIZE + MAX_CONTROL_FRAME);
    expect(encodeFrame(DATA, new Uint8Array(MAX_DATA_FRAME)).length).toBe(FRAME_HEADER_SIZE + MAX_DATA_FRAME);
    expect(() => encodeFrame(CONTROL, new Uint8Array(MAX_CONTROL_FRAME + 1))).toThrow(RangeError);
    expect(() => encodeFrame(DATA, new Uint8Array(MAX_DATA_FRAME + 1))).toThrow(RangeError);
  });

  test("the limits are 65,536 bytes for control and 262,144 bytes for data, and no other kind has one (P6)", () => {
    expect(MAX_CONTROL_FRAME).toBe(65_536);
    expect(MAX_DATA_FRAME).toBe(262_144);
    expect(maxPayload(CONTROL)).toBe(MAX_CONTROL_FRAME);
    expect(maxPayload(DATA)).toBe(MAX_DATA_FRAME);
    for (const kind of [0x00, 0x03, 0x7f, 0x81, 0xff]) expect(maxPayload(kind)).toBe(0);
  });
});

describe("encodeFrameInPlace()", () => {
  test("encodeFrameInPlace() writes the header into the reserved room and gives the same bytes as encodeFrame() (P6)", () => {
    for (const [kind, n] of [[DATA, 1], [DATA, 65_552], [DATA, MAX_DATA_FRAME], [CONTROL, 300]] as const) {
      const payload = bytes(n, 3);
      const room = new Uint8Array(13 + FRAME_HEADER_SIZE + n).subarray(13);
      room.set(payload, FRAME_HEADER_SIZE);
      const frame = encodeFrameInPlace(kind, room);
      expect(frame).toBe(room);
      expect(same(frame, encodeFrame(kind, payload))).toBe(true);
      expect(plainFrames(new FrameDecoder().push(frame))).toEqual([{ kind, length: n }]);
    }
  });

  test("encodeFrameInPlace() refuses an empty or oversized payload, as encodeFrame() does (P6)", () => {
    expect(() => encodeFrameInPlace(DATA, new Uint8Array(FRAME_HEADER_SIZE))).toThrow(RangeError);
    expect(() => encodeFrameInPlace(DATA, new Uint8Array(2))).toThrow(RangeError);
    expect(() => encodeFrameInPlace(DATA, new Uint8Array(FRAME_HEADER_SIZE + MAX_DATA_FRAME + 1))).toThrow(RangeError);
    expect(() => encodeFrameInPlace(CONTROL, new Uint8Array(FRAME_HEADER_SIZE + MAX_CONTROL_FRAME + 1))).toThrow(RangeError);
  });
});

const plainFrames = (frames: Frame[]) => frames.map((f) => ({ kind: f.kind, length: f.payload.length }));

describe("FrameDecoder limits (P6)", () => {
  test("a control frame of exactly MAX_CONTROL_FRAME bytes is accepted (P6)", () => {
    const payload = bytes(MAX_CONTROL_FRAME);
    const frames = new FrameDecoder().push(encodeFrame(CONTROL, payload));
    expect(frames.length).toBe(1);
    expect(frames[0]!.kind).toBe(CONTROL);
    expect(same(frames[0]!.payload, payload)).toBe(true);
  });

  test("a data frame of exactly MAX_DATA_FRAME bytes is accepted (P6)", () => {
    const payload = bytes(MAX_DATA_FRAME, 2);
    const frames = new FrameDecoder().push(encodeFrame(DATA, payload));
    expect(frames.length).toBe(1);
    expect(frames[0]!.kind).toBe(DATA);
    expect(same(frames[0]!.payload, payload)).toBe(true);
  });

  test("a control frame announcing MAX_CONTROL_FRAME + 1 bytes is refused with FRAME_TOO_LARGE from its header alone (P6)", () => {
    const decoder = new FrameDecoder();
    expect(codeOf(() => decoder.push(header(CONTROL, MAX_CONTROL_FRAME + 1)))).toBe("FRAME_TOO_LARGE");
    // Nothing beyond the 5-byte header was buffered: the payload was never allocated.
    expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
  });

  test("an oversized control frame sent whole is refused before its payload is buffered (P6)", () => {
    const decoder = new FrameDecoder();
    const frame = concat(header(CONTROL, MAX_CONTROL_FRAME + 1), new Uint8Array(MAX_CONTROL_FRAME + 1));
    expect(codeOf(() => decoder.push(frame))).toBe("FRAME_TOO_LARGE");
    expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
  });

  test("a data frame announcing MAX_DATA_FRAME + 1 bytes is refused with FRAME_TOO_LARGE (P6)", () => {
    const decoder = new FrameDecoder();
    expect(codeOf(() => decoder.push(header(DATA, MAX_DATA_FRAME + 1)))).toBe("FRAME_TOO_LARGE");
    expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
  });

  test("each kind has its own limit: a control frame of a data frame's size is FRAME_TOO_LARGE (P6)", () => {
    expect(codeOf(() => new FrameDecoder().push(header(CONTROL, MAX_DATA_FRAME)))).toBe("FRAME_TOO_LARGE");
    expect(new FrameDecoder().push(header(DATA, MAX_CONTROL_FRAME + 1))).toEqual([]);
  });

  for (const length of [0xffffffff, 0x80000000, 0x7fffffff, 0x00040001, 0x01000000]) {
    test(`a length of 0x${length.toString(16)} is FRAME_TOO_LARGE for both kinds, never a negative or wrapped size (P6)`, () => {
      for (const kind of [CONTROL, DATA]) {
        const decoder = new FrameDecoder();
        expect(codeOf(() => decoder.push(header(kind, length)))).toBe("FRAME_TOO_LARGE");
        expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
      }
    });
  }

  test("a zero length is BAD_FRAME for both kinds (P6)", () => {
    for (const kind of [CONTROL, DATA]) {
      const decoder = new FrameDecoder();
      expect(codeOf(() => decoder.push(header(kind, 0)))).toBe("BAD_FRAME");
      expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
    }
  });

  for (const kind of [0x00, 0x03, 0x10, 0x7f, 0x80, 0xff]) {
    test(`an unknown kind 0x${kind.toString(16).padStart(2, "0")} is BAD_FRAME whatever its length (P6)`, () => {
      for (const length of [0, 1, 100, MAX_CONTROL_FRAME, 0xffffffff]) {
        const decoder = new FrameDecoder();
        expect(codeOf(() => decoder.push(header(kind, length)))).toBe("BAD_FRAME");
        expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
      }
    });
  }

  test("a bad header delivered one byte at a time fails on its fifth byte, not before (P6)", () => {
    const decoder = new FrameDecoder();
    const h = header(CONTROL, 0xffffffff);
    for (let i = 0; i < FRAME_HEADER_SIZE - 1; i++) {
      expect(decoder.push(h.subarray(i, i + 1))).toEqual([]);
      expect(decoder.pending).toBe(i + 1);
    }
    expect(codeOf(() => decoder.push(h.subarray(4)))).toBe("FRAME_TOO_LARGE");
  });

  test("a header for a valid frame allocates nothing beyond what has arrived: pending counts received bytes only", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(header(DATA, MAX_DATA_FRAME))).toEqual([]);
    expect(decoder.pending).toBe(FRAME_HEADER_SIZE);
    expect(decoder.push(new Uint8Array(10))).toEqual([]);
    expect(decoder.pending).toBe(FRAME_HEADER_SIZE + 10);
  });
});

describe("FrameDecoder reassembly", () => {
  const stream = [
    encodeFrame(CONTROL, new TextEncoder().encode('{"type":"PING"}')),
    encodeFrame(DATA, bytes(1)),
    encodeFrame(DATA, bytes(700, 3)),
    encodeFrame(CONTROL, new TextEncoder().encode('{"type":"LIST","limit":5}')),
  ];
  const all = concat(...stream);
  const expected = stream.map((f) => ({ kind: f[0], payload: [...f.subarray(FRAME_HEADER_SIZE)] }));
  const plain = (frames: Frame[]) => frames.map((f) => ({ kind: f.kind as number | undefined, payload: [...f.payload] }));

  test("several frames in one chunk all come out, in order", () => {
    const decoder = new FrameDecoder();
    expect(plain(decoder.push(all))).toEqual(expected);
    expect(decoder.pending).toBe(0);
  });

  test("a stream split in two at every byte boundary reassembles into the same frames", () => {
    for (let at = 0; at <= all.length; at++) {
      const decoder = new FrameDecoder();
      const frames = feed(decoder, [all.subarray(0, at), all.subarray(at)]);
      expect(plain(frames)).toEqual(expected);
      expect(decoder.pending).toBe(0);
    }
  });

  test("a stream split in three at every pair of boundaries within the first frames reassembles", () => {
    const span = stream[0]!.length + stream[1]!.length + 8;
    for (let a = 0; a <= span; a++) {
      for (let b = a; b <= span; b++) {
        const frames = feed(new FrameDecoder(), [all.subarray(0, a), all.subarray(a, b), all.subarray(b)]);
        expect(plain(frames)).toEqual(expected);
      }
    }
  });

  test("a stream delivered one byte at a time reassembles and reports pending bytes as they arrive", () => {
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    let boundary = 0;
    const ends = stream.map((f) => (boundary += f.length));
    for (let i = 0; i < all.length; i++) {
      const out = decoder.push(all.subarray(i, i + 1));
      frames.push(...out);
      if (ends.includes(i + 1)) {
        expect(out.length).toBe(1);
        expect(decoder.pending).toBe(0);
      } else {
        expect(out.length).toBe(0);
        expect(decoder.pending).toBeGreaterThan(0);
      }
    }
    expect(plain(frames)).toEqual(expected);
  });

  test("an empty chunk changes nothing", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    decoder.push(all.subarray(0, 3));
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.pending).toBe(3);
    expect(plain(decoder.push(all.subarray(3)))).toEqual(expected);
  });

  test("a chunk that is a view into a larger buffer is read at its own offset", () => {
    const big = concat(bytes(13, 9), all, bytes(7, 4));
    const view = big.subarray(13, 13 + all.length);
    expect(plain(new FrameDecoder().push(view))).toEqual(expected);
  });

  test("returned payloads are copies: reusing the socket buffer does not change them", () => {
    const chunk = new Uint8Array(all);
    const frames = new FrameDecoder().push(chunk);
    chunk.fill(0xee);
    expect(plain(frames)).toEqual(expected);
  });

  test("a partial frame at the end of a stream stays pending and yields nothing", () => {
    const decoder = new FrameDecoder();
    const frames = decoder.push(all.subarray(0, all.length - 1));
    expect(frames.length).toBe(stream.length - 1);
    expect(decoder.pending).toBe(stream.at(-1)!.length - 1);
  });
});

describe("FrameDecoder with ownsChunks (chunks handed over for good)", () => {
  const frames = [encodeFrame(DATA, bytes(700, 5)), encodeFrame(CONTROL, new TextEncoder().encode('{"type":"PING"}')), encodeFrame(DATA, bytes(MAX_DATA_FRAME, 6))];
  const all = concat(...frames);
  const expected = frames.map((f) => Buffer.from(f.subarray(FRAME_HEADER_SIZE)).toString("hex"));
  const hex = (out: Frame[]) => out.map((f) => Buffer.from(f.payload).toString("hex"));

  test("a payload wholly inside one chunk is returned as a view of that chunk, not a copy", () => {
    const chunk = new Uint8Array(all);
    const out = new FrameDecoder({ ownsChunks: true }).push(chunk);
    expect(hex(out)).toEqual(expected);
    for (const f of out) expect(f.payload.buffer).toBe(chunk.buffer);
    expect(out[0]!.payload.byteOffset).toBe(FRAME_HEADER_SIZE);
  });

  test("a payload split across chunks is copied, and every split gives the same frames as copying", () => {
    const first = frames[0]!.length;
    for (const at of [1, 4, 5, 6, first - 1, first, first + 3, all.length - 1]) {
      const a = new Uint8Array(all.subarray(0, at));
      const b = new Uint8Array(all.subarray(at));
      const decoder = new FrameDecoder({ ownsChunks: true });
      const out = feed(decoder, [a, b]);
      expect(hex(out)).toEqual(expected);
      expect(decoder.pending).toBe(0);
      for (const f of out) expect(f.payload.buffer === a.buffer || f.payload.buffer === b.buffer || f.payload.byteOffset === 0).toBe(true);
    }
  });

  test("the limits are checked from the header before anything is kept, as without the option (P6)", () => {
    const decoder = new FrameDecoder({ ownsChunks: true });
    const oversized = concat(header(DATA, MAX_DATA_FRAME + 1), new Uint8Array(MAX_DATA_FRAME + 1));
    expect(codeOf(() => decoder.push(oversized))).toBe("FRAME_TOO_LARGE");
    expect(decoder.pending).toBeLessThanOrEqual(FRAME_HEADER_SIZE);
    expect(codeOf(() => new FrameDecoder({ ownsChunks: true }).push(header(CONTROL, 0)))).toBe("BAD_FRAME");
  });

  test("allocate() receives every payload it returns a buffer for, whole or split, and the others keep the default", () => {
    const pool: Uint8Array[] = [];
    const allocate = (kind: number, length: number) => {
      if (kind !== DATA) return null;
      const b = new Uint8Array(length);
      pool.push(b);
      return b;
    };
    for (const at of [all.length, frames[0]!.length + 3, all.length - 1]) {
      pool.length = 0;
      const chunks = [new Uint8Array(all.subarray(0, at)), new Uint8Array(all.subarray(at))];
      const out = feed(new FrameDecoder({ ownsChunks: true, allocate }), chunks);
      expect(hex(out)).toEqual(expected);
      expect(out.filter((f) => f.kind === DATA).map((f) => f.payload)).toEqual(pool);
      expect(chunks.map((c) => c.buffer as ArrayBufferLike)).toContain(out.find((f) => f.kind === CONTROL)!.payload.buffer);
    }
  });

  test("allocate() is asked only after the header passed the limits (P6)", () => {
    let asked = 0;
    const decoder = new FrameDecoder({ allocate: () => (asked++, null) });
    expect(codeOf(() => decoder.push(header(DATA, MAX_DATA_FRAME + 1)))).toBe("FRAME_TOO_LARGE");
    expect(asked).toBe(0);
  });

  test("releaseChunks frees a chunk nothing views once it is decoded, and never one a payload still views", () => {
    const copyData = (kind: number, length: number) => (kind === DATA ? new Uint8Array(length) : null);
    const release = () => new FrameDecoder({ ownsChunks: true, releaseChunks: true, allocate: copyData });
    // Only data frames, copied: the chunk is detached (its memory freed), the payloads are intact.
    const data = concat(frames[0]!, frames[2]!);
    const chunk = new Uint8Array(data);
    const out = release().push(chunk);
    expect(chunk.buffer.byteLength).toBe(0);
    expect(hex(out)).toEqual([expected[0]!, expected[2]!]);
    // A control payload is a view of its chunk: that chunk is kept, and so are its bytes.
    const mixed = new Uint8Array(all);
    const kept = release().push(mixed);
    expect(mixed.buffer.byteLength).toBe(all.length);
    expect(hex(kept)).toEqual(expected);
    // Every split: frames as without the option, and a chunk is freed only if no payload views it.
    for (const at of [1, 5, frames[0]!.length + 3, all.length - 1]) {
      const chunks = [new Uint8Array(all.subarray(0, at)), new Uint8Array(all.subarray(at))];
      const views = feed(release(), chunks);
      expect(hex(views)).toEqual(expected);
      for (const c of chunks) {
        const viewed = views.some((f) => f.payload.buffer === c.buffer);
        expect(c.buffer.byteLength === 0).toBe(!viewed);
      }
    }
    // A chunk that is part of a larger buffer is not the decoder's to free; nor is any chunk without ownsChunks.
    const inner = new Uint8Array(data.length + 8).subarray(4, 4 + data.length);
    inner.set(data);
    release().push(inner);
    expect(inner.buffer.byteLength).toBe(data.length + 8);
    const notOwned = new Uint8Array(data);
    new FrameDecoder({ releaseChunks: true, allocate: copyData }).push(notOwned);
    expect(notOwned.buffer.byteLength).toBe(data.length);
  });

  test("without the option, payloads are copies even when the chunk is a Buffer (whose slice() is a view)", () => {
    const chunk = Buffer.from(all);
    const out = new FrameDecoder().push(chunk);
    chunk.fill(0xee);
    expect(hex(out)).toEqual(expected);
  });
});

describe("FrameDecoder after an error (P6)", () => {
  test("the decoder stays failed: every later push throws the same error, even a valid frame or nothing", () => {
    const decoder = new FrameDecoder();
    let first: unknown;
    try {
      decoder.push(header(0x09, 4));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(ProtocolError);
    expect((first as ProtocolError).code).toBe("BAD_FRAME");
    for (const next of [encodeFrame(CONTROL, new Uint8Array([0x7b])), new Uint8Array(0), header(DATA, 1)]) {
      let again: unknown;
      try {
        decoder.push(next);
      } catch (e) {
        again = e;
      }
      expect(again).toBe(first);
    }
  });

  test("frames completed in earlier pushes are kept when a later header is bad", () => {
    const decoder = new FrameDecoder();
    const good = decoder.push(encodeFrame(DATA, bytes(10)));
    expect(good.length).toBe(1);
    expect(codeOf(() => decoder.push(header(CONTROL, 0)))).toBe("BAD_FRAME");
    expect(good[0]!.payload.length).toBe(10);
  });

  test("a bad header after valid frames in the same chunk fails the push (the connection is closed anyway)", () => {
    const decoder = new FrameDecoder();
    const chunk = concat(encodeFrame(DATA, bytes(10)), header(DATA, MAX_DATA_FRAME + 1));
    expect(codeOf(() => decoder.push(chunk))).toBe("FRAME_TOO_LARGE");
    expect(codeOf(() => decoder.push(new Uint8Array(0)))).toBe("FRAME_TOO_LARGE");
  });
});
