/** Tests of sealStream()/openStream() against ENVELOPE.md sections 1 and 3 (K, S, R rules). */
import { expect, test } from "bun:test";
import { createDecipheriv } from "node:crypto";
import {
  CHUNK_SIZE,
  TAG_SIZE,
  cipherSize,
  encodeHeader,
  generateContentKey,
  newHeader,
  openStream,
  sealStream,
  sealStreamWithHeadroom,
  type EnvelopeHeader,
} from "../../src/crypto/index.ts";
import { collect, outcome, patternBytes, pieces } from "./stream-helpers.ts";

const key = generateContentKey();

function header(size: number): EnvelopeHeader {
  return newHeader({ owner: "alice", name: "photo.png", contentType: "image/png", size });
}

async function seal(h: EnvelopeHeader, data: Uint8Array, sizes?: number[]): Promise<Uint8Array> {
  return (await collect(sealStream(key, h, pieces(data, sizes)))).bytes;
}

async function open(h: EnvelopeHeader | Uint8Array, ct: Uint8Array, sizes?: number[], k = key) {
  const bytes = h instanceof Uint8Array ? h : encodeHeader(h);
  return collect(openStream(k, bytes, pieces(ct, sizes)));
}

/** Splits a ciphertext into its sealed chunks (S4). */
function chunksOf(ct: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < ct.length; at += CHUNK_SIZE + TAG_SIZE) out.push(ct.slice(at, at + CHUNK_SIZE + TAG_SIZE));
  return out;
}

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17];

for (const size of SIZES) {
  test(`sealStream() then openStream() round-trips ${size} bytes with exactly cipherSize(size) bytes of ciphertext (S1, S4, R6)`, async () => {
    const h = header(size);
    const data = patternBytes(size, size + 1);
    const ct = await seal(h, data);
    expect(ct.length).toBe(cipherSize(size));
    const out = await open(h, ct);
    expect(Buffer.from(out.bytes).equals(Buffer.from(data))).toBe(true);
  });
}

test("an empty image is one empty final chunk: 16 bytes of tag (S1)", async () => {
  const h = header(0);
  const ct = await seal(h, new Uint8Array(0));
  expect(ct.length).toBe(TAG_SIZE);
  expect((await open(h, ct)).bytes.length).toBe(0);
});

test("a size that is a multiple of CHUNK_SIZE ends with a full final chunk, not an extra empty one (S1)", async () => {
  const h = header(2 * CHUNK_SIZE);
  const ct = await seal(h, patternBytes(2 * CHUNK_SIZE));
  expect(ct.length).toBe(2 * (CHUNK_SIZE + TAG_SIZE));
});

test("each chunk opens independently with nonce = prefix || u32 counter || last flag and AAD = header (S2, S3)", async () => {
  const h = header(2 * CHUNK_SIZE + 5);
  const data = patternBytes(h.size);
  const ct = await seal(h, data);
  const aad = encodeHeader(h);
  chunksOf(ct).forEach((chunk, i, all) => {
    const nonce = Buffer.concat([h.noncePrefix, Buffer.from([0, 0, 0, i, i === all.length - 1 ? 1 : 0])]);
    const d = createDecipheriv("aes-256-gcm", key, nonce);
    d.setAAD(aad);
    d.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
    const plain = Buffer.concat([d.update(chunk.subarray(0, chunk.length - TAG_SIZE)), d.final()]);
    expect(plain.equals(Buffer.from(data.subarray(i * CHUNK_SIZE, i * CHUNK_SIZE + plain.length)))).toBe(true);
  });
});

test("input chunking does not change the ciphertext: 1-byte, odd and large pieces give identical bytes (S4, S6)", async () => {
  const h = header(2 * CHUNK_SIZE + 333);
  const data = patternBytes(h.size, 7);
  const reference = await seal(h, data);
  for (const sizes of [[1], [7, 65537, 3], [CHUNK_SIZE], [1 << 20], [CHUNK_SIZE - 1, 2]]) {
    expect(Buffer.from(await seal(h, data, sizes)).equals(Buffer.from(reference))).toBe(true);
  }
});

test("openStream() accepts the ciphertext in any piece sizes, and yields pieces of at most CHUNK_SIZE (R6)", async () => {
  const h = header(3 * CHUNK_SIZE + 100);
  const data = patternBytes(h.size, 9);
  const ct = await seal(h, data);
  for (const sizes of [[1], [13, 65553], [CHUNK_SIZE + TAG_SIZE], [1 << 20], [5, 100_000]]) {
    const out = await open(h, ct, sizes);
    expect(Buffer.from(out.bytes).equals(Buffer.from(data))).toBe(true);
    expect(out.maxPiece).toBeLessThanOrEqual(CHUNK_SIZE);
  }
});

test("sealStream() output pieces are bounded by CHUNK_SIZE + TAG_SIZE whatever the input pieces (S6)", async () => {
  const h = header(5 * CHUNK_SIZE + 1);
  const out = await collect(sealStream(key, h, pieces(patternBytes(h.size), [3 << 20])));
  expect(out.maxPiece).toBeLessThanOrEqual(CHUNK_SIZE + TAG_SIZE);
  expect(out.count).toBe(6);
});

test("sealStreamWithHeadroom() yields sealStream()'s chunks, each after that many zeroed bytes of headroom (S4, S6)", async () => {
  const h = header(3 * CHUNK_SIZE + 17);
  const data = patternBytes(h.size, 5);
  for (const sizes of [[1 << 20], [7, 65537, 3]]) {
    const plain: Uint8Array[] = [];
    for await (const c of sealStream(key, h, pieces(data, sizes))) plain.push(new Uint8Array(c));
    const roomy: Uint8Array[] = [];
    for await (const c of sealStreamWithHeadroom(key, h, pieces(data, sizes), 5)) roomy.push(c);
    expect(roomy.length).toBe(plain.length);
    roomy.forEach((c, i) => {
      expect([...c.subarray(0, 5)]).toEqual([0, 0, 0, 0, 0]);
      expect(Buffer.from(c.subarray(5)).equals(Buffer.from(plain[i]!))).toBe(true);
    });
  }
  expect(await outcome(collect(sealStreamWithHeadroom(key, h, pieces(data.subarray(1)), 5)))).toBe("SIZE_MISMATCH");
});

test("sealStream() refuses plaintext longer or shorter than the header's size (S5)", async () => {
  expect(await outcome(seal(header(10), patternBytes(11)))).toBe("SIZE_MISMATCH");
  expect(await outcome(seal(header(10), patternBytes(9)))).toBe("SIZE_MISMATCH");
  expect(await outcome(seal(header(CHUNK_SIZE + 1), patternBytes(CHUNK_SIZE)))).toBe("SIZE_MISMATCH");
  expect(await outcome(seal(header(0), patternBytes(1)))).toBe("SIZE_MISMATCH");
});

test("a key that is not 32 bytes is refused by sealStream() and openStream() (K3, R1)", async () => {
  const h = header(1);
  for (const bad of [new Uint8Array(16), new Uint8Array(31), new Uint8Array(33)]) {
    expect(await outcome(collect(sealStream(bad, h, pieces(new Uint8Array(1)))))).toBe("BAD_KEY");
    expect(await outcome(collect(openStream(bad, encodeHeader(h), pieces(new Uint8Array(17)))))).toBe("BAD_KEY");
  }
});

test("generateContentKey() returns 32 fresh random bytes (K1)", () => {
  const a = generateContentKey();
  expect(a.length).toBe(32);
  expect(Buffer.from(a).equals(Buffer.from(generateContentKey()))).toBe(false);
});

test("openStream() rejects a malformed header before reading any ciphertext (R1)", async () => {
  const bytes = encodeHeader(header(1));
  bytes[6] = 9;
  let pulled = false;
  async function* source() {
    pulled = true;
    yield new Uint8Array(17);
  }
  expect(await outcome(collect(openStream(key, bytes, source())))).toBe("BAD_HEADER");
  expect(pulled).toBe(false);
});

test("openStream() fails on a wrong key, a flipped bit anywhere, or any changed header field (R2, S3)", async () => {
  const h = header(CHUNK_SIZE + 10);
  const ct = await seal(h, patternBytes(h.size));
  expect(await outcome(open(h, ct, undefined, generateContentKey()))).toBe("CHUNK_AUTH_FAILED");
  for (const at of [0, CHUNK_SIZE - 1, CHUNK_SIZE + 5, ct.length - 1]) {
    const t = ct.slice();
    t[at]! ^= 1;
    expect(await outcome(open(h, t))).toBe("CHUNK_AUTH_FAILED");
  }
  for (const change of [{ owner: "mallory" }, { name: "other.png" }, { contentType: "image/gif" }, { noncePrefix: new Uint8Array(7) }]) {
    expect(await outcome(open({ ...h, ...change }, ct))).toBe("CHUNK_AUTH_FAILED");
  }
});

test("openStream() rejects reordered and duplicated chunks (R2, S2)", async () => {
  const h = header(3 * CHUNK_SIZE + 10);
  const [c0, c1, c2, c3] = chunksOf(await seal(h, patternBytes(h.size)));
  const join = (...parts: (Uint8Array | undefined)[]) => new Uint8Array(Buffer.concat(parts.map((p) => p!)));
  expect(await outcome(open(h, join(c1, c0, c2, c3)))).toBe("CHUNK_AUTH_FAILED");
  expect(await outcome(open(h, join(c0, c2, c1, c3)))).toBe("CHUNK_AUTH_FAILED");
  expect(await outcome(open(h, join(c0, c0, c2, c3)))).toBe("CHUNK_AUTH_FAILED");
  expect(await outcome(open(h, join(c0, c1, c2, c2, c3)))).toBe("CHUNK_AUTH_FAILED");
});

test("openStream() rejects a non-final chunk sealed with the last flag: an early end cannot be forged (R2, S2)", async () => {
  // Someone who holds the key seals the first CHUNK_SIZE bytes as a final chunk and
  // presents them under the header of the longer image: the flag does not match the position.
  const long = header(CHUNK_SIZE + 10);
  const short = { ...long, size: CHUNK_SIZE };
  const data = patternBytes(long.size);
  const early = await seal(short, data.subarray(0, CHUNK_SIZE));
  const genuine = chunksOf(await seal(long, data));
  expect(await outcome(open(long, new Uint8Array(Buffer.concat([early, genuine[1]!]))))).toBe("CHUNK_AUTH_FAILED");
});

test("openStream() rejects a stream that ends before the final chunk, at a chunk boundary or inside one (R4)", async () => {
  const h = header(2 * CHUNK_SIZE + 10);
  const ct = await seal(h, patternBytes(h.size));
  for (const cut of [0, 1, CHUNK_SIZE + TAG_SIZE, 2 * (CHUNK_SIZE + TAG_SIZE), ct.length - 1]) {
    expect(await outcome(open(h, ct.subarray(0, cut)))).toBe("TRUNCATED");
  }
  const empty = header(0);
  expect(await outcome(open(empty, new Uint8Array(0)))).toBe("TRUNCATED");
});

test("openStream() rejects a dropped middle chunk (R4)", async () => {
  const h = header(2 * CHUNK_SIZE + 10);
  const [c0, , c2] = chunksOf(await seal(h, patternBytes(h.size)));
  expect(await outcome(open(h, new Uint8Array(Buffer.concat([c0!, c2!]))))).toBe("TRUNCATED");
});

test("openStream() rejects any byte after the final chunk, in the same piece or a later one (R5)", async () => {
  const h = header(CHUNK_SIZE + 10);
  const ct = await seal(h, patternBytes(h.size));
  const longer = new Uint8Array(ct.length + 1);
  longer.set(ct);
  expect(await outcome(open(h, longer))).toBe("TRAILING_DATA");
  expect(await outcome(open(h, longer, [ct.length, 1]))).toBe("TRAILING_DATA");
  const empty = header(0);
  expect(await outcome(open(empty, new Uint8Array(Buffer.concat([await seal(empty, new Uint8Array(0)), Buffer.from([0])]))))).toBe("TRAILING_DATA");
});

test("openStream() holds the final chunk back until the source has ended, so trailing data is caught first (R5, R7)", async () => {
  const h = header(10);
  const ct = await seal(h, patternBytes(10));
  const released: Uint8Array[] = [];
  async function* source() {
    yield ct;
    yield new Uint8Array([1]);
  }
  const result = await outcome(
    (async () => {
      for await (const p of openStream(key, encodeHeader(h), source())) released.push(p);
    })(),
  );
  expect(result).toBe("TRAILING_DATA");
  expect(released.length).toBe(0);
});

test("openStream() releases no plaintext of a chunk whose tag fails (R3)", async () => {
  const h = header(2 * CHUNK_SIZE);
  const ct = await seal(h, patternBytes(h.size));
  ct[CHUNK_SIZE + TAG_SIZE + 3]! ^= 0x80; // second chunk
  const released: Uint8Array[] = [];
  const result = await outcome(
    (async () => {
      for await (const p of openStream(key, encodeHeader(h), pieces(ct, [1000]))) released.push(p);
    })(),
  );
  expect(result).toBe("CHUNK_AUTH_FAILED");
  expect(released.map((p) => p.length)).toEqual([CHUNK_SIZE]); // only the first, authentic chunk
});

test("openStream() yields exactly header.size bytes for every size around chunk boundaries (R6)", async () => {
  for (const size of [CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE - 1]) {
    const h = header(size);
    expect((await open(h, await seal(h, patternBytes(size)))).bytes.length).toBe(size);
  }
});
