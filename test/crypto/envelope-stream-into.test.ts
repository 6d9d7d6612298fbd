/** Tests of sealStreamInto()/openStreamInto(): the envelope stream in buffers the caller owns (ENVELOPE.md section 3). */
import { expect, test } from "bun:test";
import {
  CHUNK_SIZE,
  TAG_SIZE,
  encodeHeader,
  generateContentKey,
  newHeader,
  openStream,
  openStreamInto,
  sealStream,
  sealStreamInto,
  type EnvelopeHeader,
} from "../../src/crypto/index.ts";
import { collect, outcome, patternBytes, pieces } from "./stream-helpers.ts";

const key = generateContentKey();
const header = (size: number): EnvelopeHeader => newHeader({ owner: "alice", name: "photo.png", contentType: "image/png", size });
const SIZES = [0, 1, 5000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17];
const PIECES = [[1 << 20], [7, 65537, 3], [CHUNK_SIZE]];

/** Two buffers handed out in turn, as a sender reusing its frames would: the chunks must be copied out to survive. */
function ring(): { take: (length: number) => Uint8Array; given: Uint8Array[] } {
  const buffers = [new Uint8Array(CHUNK_SIZE + TAG_SIZE + 9), new Uint8Array(CHUNK_SIZE + TAG_SIZE + 9)];
  const given: Uint8Array[] = [];
  let which = 0;
  return {
    given,
    take(length) {
      const out = buffers[which++ % 2]!.subarray(9, 9 + length);
      out.fill(0xee); // whatever a reused buffer held before
      given.push(out);
      return out;
    },
  };
}

for (const size of SIZES) {
  test(`sealStreamInto() writes sealStream()'s exact chunks of ${size} bytes into the buffers take() gives, and yields those (S4, S6)`, async () => {
    const h = header(size);
    const data = patternBytes(size, size + 3);
    const expected = await collect(sealStream(key, h, pieces(data)));
    for (const sizes of PIECES) {
      const { take, given } = ring();
      const chunks: Uint8Array[] = [];
      let i = 0;
      for await (const c of sealStreamInto(key, h, pieces(data, sizes), take)) {
        expect(c).toBe(given[i++]!);
        expect(c.length).toBeLessThanOrEqual(CHUNK_SIZE + TAG_SIZE);
        chunks.push(c.slice());
      }
      expect(chunks.length).toBe(expected.count);
      expect(Buffer.concat(chunks).equals(Buffer.from(expected.bytes))).toBe(true);
    }
  });

  test(`openStreamInto() gives openStream()'s plaintext of ${size} bytes as views of one caller buffer (R6)`, async () => {
    const h = header(size);
    const data = patternBytes(size, size + 5);
    const ct = (await collect(sealStream(key, h, pieces(data)))).bytes;
    const into = new Uint8Array(CHUNK_SIZE + 100);
    for (const sizes of PIECES) {
      const parts: Uint8Array[] = [];
      for await (const p of openStreamInto(key, encodeHeader(h), pieces(ct, sizes), into)) {
        expect(p.buffer).toBe(into.buffer);
        expect(p.byteOffset).toBe(0);
        expect(p.length).toBeLessThanOrEqual(CHUNK_SIZE);
        parts.push(p.slice());
      }
      expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    }
  });
}

test("sealStreamInto() refuses a take() that gives the wrong number of bytes", async () => {
  const h = header(10);
  await expect(collect(sealStreamInto(key, h, pieces(patternBytes(10)), (n) => new Uint8Array(n + 1)))).rejects.toThrow(RangeError);
});

test("sealStreamInto() refuses plaintext longer or shorter than the header's size, and a bad key (S5, K3)", async () => {
  const h = header(CHUNK_SIZE + 3);
  const take = (n: number) => new Uint8Array(n);
  expect(await outcome(collect(sealStreamInto(key, h, pieces(patternBytes(h.size + 1)), take)))).toBe("SIZE_MISMATCH");
  expect(await outcome(collect(sealStreamInto(key, h, pieces(patternBytes(h.size - 1)), take)))).toBe("SIZE_MISMATCH");
  expect(await outcome(collect(sealStreamInto(new Uint8Array(16), h, pieces(patternBytes(h.size)), take)))).toBe("BAD_KEY");
});

test("openStreamInto() refuses a buffer smaller than a chunk", () => {
  const h = header(10);
  expect(() => openStreamInto(key, encodeHeader(h), pieces(new Uint8Array(26)), new Uint8Array(CHUNK_SIZE - 1))).toThrow(RangeError);
});

test("openStreamInto() fails exactly as openStream() does on tampering, truncation and trailing data, and releases no plaintext of a failed chunk (R2–R5)", async () => {
  const h = header(2 * CHUNK_SIZE + 10);
  const data = patternBytes(h.size, 9);
  const ct = (await collect(sealStream(key, h, pieces(data)))).bytes;
  const flipped = ct.slice();
  flipped[CHUNK_SIZE + TAG_SIZE + 3]! ^= 1;
  const cases = [flipped, ct.subarray(0, ct.length - 1), ct.subarray(0, 2 * (CHUNK_SIZE + TAG_SIZE)), new Uint8Array(Buffer.concat([ct, new Uint8Array(1)]))];
  for (const bad of cases) {
    const plainCode = await outcome(collect(openStream(key, encodeHeader(h), pieces(bad, [4096]))));
    expect(plainCode).not.toBe("ok");
    const released: Uint8Array[] = [];
    const code = await outcome(
      (async () => {
        for await (const p of openStreamInto(key, encodeHeader(h), pieces(bad, [4096]), new Uint8Array(CHUNK_SIZE))) released.push(p.slice());
      })(),
    );
    expect(code).toBe(plainCode);
    // Only whole, authenticated, non-final chunks ever came out, and they are the genuine ones.
    const out = Buffer.concat(released);
    expect(out.length % CHUNK_SIZE).toBe(0);
    expect(out.equals(Buffer.from(data.subarray(0, out.length)))).toBe(true);
    if (bad === flipped) expect(out.length).toBe(CHUNK_SIZE);
  }
});
