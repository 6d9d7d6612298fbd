/** Tests of the envelope header codec against ENVELOPE.md section 2 (H1..H10) and cipherSize (S1, S4). */
import { expect, test } from "bun:test";
import fc from "fast-check";
import {
  CHUNK_SIZE,
  ENVELOPE_MAGIC,
  EnvelopeError,
  MAX_HEADER_SIZE,
  MAX_PLAINTEXT_SIZE,
  TAG_SIZE,
  cipherSize,
  decodeHeader,
  encodeHeader,
  newHeader,
  type EnvelopeHeader,
} from "../../src/crypto/index.ts";

const prefix = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
const base: EnvelopeHeader = { owner: "alice", name: "cat.png", contentType: "image/png", size: 1234, noncePrefix: prefix };

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
  return "no error";
}

test("encodeHeader() writes the documented layout: magic, version, chunk log2, prefix, u64 size, fields", () => {
  const bytes = encodeHeader(base);
  expect(Buffer.from(bytes.subarray(0, 6)).toString("ascii")).toBe("SISENV");
  expect(bytes[6]).toBe(1);
  expect(bytes[7]).toBe(16);
  expect([...bytes.subarray(8, 15)]).toEqual([...prefix]);
  expect(Buffer.from(bytes).readBigUInt64BE(15)).toBe(1234n);
  expect(bytes[23]).toBe(5);
  expect(Buffer.from(bytes.subarray(24, 29)).toString()).toBe("alice");
  expect(bytes.length).toBe(23 + 3 + 5 + 7 + 9);
});

test("MAX_HEADER_SIZE is 409 and a header with every field at its limit has exactly that size", () => {
  const h = { ...base, owner: "o".repeat(64), name: "n".repeat(255), contentType: "t".repeat(64) };
  expect(MAX_HEADER_SIZE).toBe(409);
  expect(encodeHeader(h).length).toBe(MAX_HEADER_SIZE);
  expect(decodeHeader(encodeHeader(h))).toEqual(h);
});

test("decodeHeader() rejects a wrong magic (H1)", () => {
  const bytes = encodeHeader(base);
  bytes[0] = 0x58;
  expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
  expect([...ENVELOPE_MAGIC]).toEqual([0x53, 0x49, 0x53, 0x45, 0x4e, 0x56]);
});

test("decodeHeader() rejects an unknown version (H2)", () => {
  for (const v of [0, 2, 255]) {
    const bytes = encodeHeader(base);
    bytes[6] = v;
    expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
  }
});

test("decodeHeader() rejects a chunk size other than 2^16 (H3)", () => {
  const bytes = encodeHeader(base);
  bytes[7] = 17;
  expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
});

test("sizes above 2^48 are refused by both encoder and decoder, 2^48 itself is accepted (H4, H9)", () => {
  expect(decodeHeader(encodeHeader({ ...base, size: MAX_PLAINTEXT_SIZE })).size).toBe(2 ** 48);
  expect(code(() => encodeHeader({ ...base, size: MAX_PLAINTEXT_SIZE + 1 }))).toBe("BAD_HEADER");
  const bytes = encodeHeader(base);
  Buffer.from(bytes.buffer).writeBigUInt64BE(2n ** 48n + 1n, 15);
  expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
  Buffer.from(bytes.buffer).writeBigUInt64BE(2n ** 64n - 1n, 15);
  expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
  for (const size of [-1, 1.5, Number.NaN]) expect(code(() => encodeHeader({ ...base, size }))).toBe("BAD_HEADER");
});

test("owner and name limits: empty, too long, control characters and LF are refused (H5, H9)", () => {
  const bad: Partial<EnvelopeHeader>[] = [
    { owner: "" },
    { owner: "o".repeat(65) },
    { owner: "é".repeat(33) }, // 66 bytes
    { name: "" },
    { name: "n".repeat(256) },
    { name: "a\nb" },
    { owner: "a\u0000" },
    { name: "x\u007f" },
    { name: "\ud800" }, // lone surrogate
  ];
  for (const b of bad) expect(code(() => encodeHeader({ ...base, ...b }))).toBe("BAD_HEADER");
  expect(decodeHeader(encodeHeader({ ...base, owner: "é".repeat(32), name: "猫 🐈.png" })).name).toBe("猫 🐈.png");
});

test("decodeHeader() refuses malformed UTF-8 and keeps a leading BOM as a character (H5, H8)", () => {
  const bytes = encodeHeader({ ...base, owner: "abc" });
  bytes.set([0xc0, 0x80, 0x41], 24); // overlong NUL
  expect(code(() => decodeHeader(bytes))).toBe("BAD_HEADER");
  const bom = encodeHeader({ ...base, owner: "\ufeffalice" });
  expect(decodeHeader(bom).owner).toBe("\ufeffalice");
  expect([...encodeHeader(decodeHeader(bom))]).toEqual([...bom]);
});

test("contentType must be 1..64 bytes of printable ASCII (H6)", () => {
  for (const contentType of ["", "x".repeat(65), "image/pn\u00e9", "image/png\n", "a\tb"]) {
    expect(code(() => encodeHeader({ ...base, contentType }))).toBe("BAD_HEADER");
  }
  expect(decodeHeader(encodeHeader({ ...base, contentType: "image/svg+xml; charset=utf-8" })).contentType).toBe("image/svg+xml; charset=utf-8");
});

test("decodeHeader() rejects a header with missing or trailing bytes (H7)", () => {
  const bytes = encodeHeader(base);
  for (let cut = 0; cut < bytes.length; cut++) expect(code(() => decodeHeader(bytes.subarray(0, cut)))).toBe("BAD_HEADER");
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  expect(code(() => decodeHeader(longer))).toBe("BAD_HEADER");
  const lying = encodeHeader(base);
  lying[23] = 200; // owner length past the end
  expect(code(() => decodeHeader(lying))).toBe("BAD_HEADER");
});

test("the header encoding is canonical: decode then encode gives the same bytes, for any valid fields (H8)", () => {
  const text = (max: number) =>
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s) && Buffer.byteLength(s) <= max);
  fc.assert(
    fc.property(
      text(64),
      text(255),
      fc.stringMatching(/^[ -~]{1,64}$/),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map((n) => n % (MAX_PLAINTEXT_SIZE + 1)),
      fc.uint8Array({ minLength: 7, maxLength: 7 }),
      (owner, name, contentType, size, noncePrefix) => {
        const h = { owner, name, contentType, size, noncePrefix };
        const bytes = encodeHeader(h);
        expect(decodeHeader(bytes)).toEqual(h);
        expect([...encodeHeader(decodeHeader(bytes))]).toEqual([...bytes]);
      },
    ),
  );
});

test("decodeHeader() never throws anything but BAD_HEADER on random bytes (H1..H7)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
      const c = code(() => decodeHeader(bytes));
      expect(["BAD_HEADER", "no error"]).toContain(c);
    }),
  );
});

test("newHeader() draws a fresh 7-byte nonce prefix each time (H10)", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const h = newHeader({ owner: "a1", name: "x", contentType: "image/png", size: 0 });
    expect(h.noncePrefix.length).toBe(7);
    seen.add(Buffer.from(h.noncePrefix).toString("hex"));
  }
  expect(seen.size).toBe(100);
  expect(code(() => encodeHeader({ ...base, noncePrefix: new Uint8Array(6) }))).toBe("BAD_HEADER");
});

test("cipherSize() is size + max(1, ceil(size / CHUNK_SIZE)) * TAG_SIZE (S1, S4)", () => {
  expect(cipherSize(0)).toBe(TAG_SIZE);
  expect(cipherSize(1)).toBe(1 + TAG_SIZE);
  expect(cipherSize(CHUNK_SIZE)).toBe(CHUNK_SIZE + TAG_SIZE);
  expect(cipherSize(CHUNK_SIZE + 1)).toBe(CHUNK_SIZE + 1 + 2 * TAG_SIZE);
  expect(cipherSize(3 * CHUNK_SIZE)).toBe(3 * CHUNK_SIZE + 3 * TAG_SIZE);
  expect(cipherSize(MAX_PLAINTEXT_SIZE)).toBe(2 ** 48 + 2 ** 32 * TAG_SIZE);
  expect(() => cipherSize(-1)).toThrow(RangeError);
  expect(() => cipherSize(MAX_PLAINTEXT_SIZE + 1)).toThrow(RangeError);
});
