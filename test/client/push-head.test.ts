/** The pushes' pre-check (src/client/pushes.ts): inHead() says what the latin1 string test said. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { inHead } from "../../src/client/pushes.ts";

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const viaString = (payload: Uint8Array, pattern: string) => Buffer.from(payload.subarray(0, 40)).toString("latin1").includes(pattern);
const PATTERNS = ['"INCOMING"', '"DELIVERED"', '"DROPPED"', "NEW_IMAGE", "IMAGE_DELETED"];

describe("inHead()", () => {
  test("finds a push's type in the first 40 bytes only, as the string test did", () => {
    const frame = ascii(JSON.stringify({ type: "NEW_IMAGE", image: { seq: 1 } }));
    expect(inHead(frame, ascii("NEW_IMAGE"))).toBe(true);
    expect(inHead(frame, ascii("IMAGE_DELETED"))).toBe(false);
    // Ending at byte 40 counts; starting at 32 with 9 bytes ends at 41 and does not.
    expect(inHead(ascii(" ".repeat(31) + "NEW_IMAGE"), ascii("NEW_IMAGE"))).toBe(true);
    expect(inHead(ascii(" ".repeat(32) + "NEW_IMAGE"), ascii("NEW_IMAGE"))).toBe(false);
    expect(inHead(ascii("NEW_IMAG"), ascii("NEW_IMAGE"))).toBe(false);
    expect(inHead(new Uint8Array(0), ascii("NEW_IMAGE"))).toBe(false);
  });

  test("agrees with the latin1 string test on random and near-miss payloads", () => {
    const piece = fc.oneof(fc.constantFrom(...PATTERNS, '"type":', "NEW_IMAG", "\u00e9", "\u00ff"), fc.string({ maxLength: 8 }));
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(piece, { maxLength: 8 }).map((parts) => Uint8Array.from(parts.join(""), (c) => c.charCodeAt(0) & 0xff)),
    );
    fc.assert(
      fc.property(payload, fc.constantFrom(...PATTERNS), fc.nat(8), (bytes, pattern, skip) => {
        // Views at an offset too, as frames are views of the socket's chunks.
        const view = new Uint8Array(skip + bytes.length);
        view.set(bytes, skip);
        const p = view.subarray(skip);
        expect(inHead(p, ascii(pattern))).toBe(viaString(p, pattern));
      }),
      { numRuns: 2000, seed: 20261202 },
    );
  });
});
