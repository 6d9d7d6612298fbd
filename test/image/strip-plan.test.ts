/**
 * planStrip (src/image/strip.ts, PNG's planPng): what the chunk headers alone say equals what the
 * stripper makes of the same bytes, size and names; what the headers show to be malformed fails
 * the plan with the stripper's words; a bad CRC is left to the stripper.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { planStrip, StripError, stripStream } from "../../src/image/strip.ts";
import { BUILT, FIXTURE_CASES, fixture, IEND, IHDR, PNG_SIG, VECTORS, be32, bytes, pngChunk } from "./strip-images.ts";

const readAtOf = (input: Uint8Array) => async (position: number, length: number) => input.slice(position, position + length);

/** The stripper's verdict: its output size and names, or its error message. */
async function stripped(input: Uint8Array): Promise<{ size: number; removed: string[]; kept: string[] } | { error: string }> {
  const removed: string[] = [];
  const kept: string[] = [];
  let size = 0;
  try {
    for await (const chunk of stripStream("image/png", async function* () { yield input; }, removed, kept)) size += chunk.length;
    return { size, removed, kept };
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
}

async function planned(input: Uint8Array): Promise<{ size: number; removed: string[]; kept: string[] } | { error: string }> {
  const removed: string[] = [];
  const kept: string[] = [];
  try {
    const size = await planStrip("image/png", readAtOf(input), input.length, removed, kept);
    if (size === null) throw new Error("PNG has no plan");
    return { size, removed, kept };
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
}

/** Same verdict; a bad CRC is the one thing the plan cannot see (it then says what the stripper would give without it). */
async function agree(input: Uint8Array): Promise<void> {
  const strip = await stripped(input);
  const plan = await planned(input);
  if ("error" in strip && /bad crc/.test(strip.error)) return;
  expect(plan).toEqual(strip);
}

describe("planStrip() for PNG", () => {
  test("gives the stripper's size and names for every PNG fixture and built image", async () => {
    const inputs = [
      ...FIXTURE_CASES.filter((c) => c.kind === "image/png").map((c) => fixture(c.file)),
      fixture("sample.png"),
      ...BUILT.filter((c) => c.kind === "image/png").map((c) => c.input),
    ];
    expect(inputs.length).toBeGreaterThan(3);
    for (const input of inputs) {
      const plan = await planned(input);
      expect("size" in plan).toBe(true);
      await agree(input);
    }
  });

  test("fails with the stripper's words on every malformed PNG vector but the bad CRC, which it leaves to the stripper", async () => {
    const vectors = VECTORS.filter((v) => v.kind === "image/png");
    expect(vectors.length).toBeGreaterThan(5);
    for (const v of vectors) {
      const plan = await planned(v.input);
      if (v.outcome === "ok") expect("size" in plan).toBe(true);
      // The headers are sound; the stripper, run as the image is sent, finds the CRC.
      else if (v.outcome.test("bad crc")) expect("size" in plan && "error" in (await stripped(v.input))).toBe(true);
      else expect("error" in plan && v.outcome.test(plan.error)).toBe(true);
      await agree(v.input);
    }
  });

  test("agrees with the stripper on random chunk sequences, cut-offs and trailing bytes", async () => {
    const TYPES = ["IDAT", "tEXt", "iTXt", "zTXt", "eXIf", "tIME", "iCCP", "sRGB", "gAMA", "pHYs", "caBX", "prVt", "IHDR", "IEND", "PLTE", "acTL", "fdAT"];
    const badCrc = fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
    const chunk = fc.record({ type: fc.constantFrom(...TYPES), data: fc.uint8Array({ maxLength: 40 }), badCrc }).map(({ type, data, badCrc }) => {
      const c = pngChunk(type, data);
      if (badCrc) c[c.length - 1]! ^= 1;
      return c;
    });
    const image = fc.record({
      body: fc.array(chunk, { maxLength: 8 }),
      ihdr: fc.boolean(),
      iend: fc.boolean(),
      tail: fc.uint8Array({ maxLength: 6 }),
      cut: fc.option(fc.nat(200), { nil: undefined }),
    }).map(({ body, ihdr, iend, tail, cut }) => {
      const whole = bytes(PNG_SIG, ...(ihdr ? [IHDR] : []), ...body, ...(iend ? [IEND] : []), tail);
      return cut === undefined ? whole : whole.subarray(0, Math.min(cut, whole.length));
    });
    await fc.assert(fc.asyncProperty(image, agree), { numRuns: 1500, seed: 20261202 });
  });

  test("reads headers, not data: a PNG with a 100 MiB IDAT costs four reads of at most 8 bytes", async () => {
    const huge = 100 * 1024 * 1024;
    const head = bytes(PNG_SIG, IHDR, be32(huge), "IDAT");
    const tail = IEND;
    const fileSize = head.length + huge + 4 + tail.length;
    const reads: number[] = [];
    const readAt = async (position: number, length: number) => {
      reads.push(length);
      if (position < head.length) return head.slice(position, position + length);
      if (position === head.length + huge + 4) return tail.slice(0, length);
      throw new Error(`read inside the data at ${position}`);
    };
    const removed: string[] = [];
    expect(await planStrip("image/png", readAt, fileSize, removed, [])).toBe(fileSize);
    expect(removed).toEqual([]);
    expect(reads.length).toBe(4);
    expect(reads.every((n) => n <= 8)).toBe(true);
  });

  test("is null for formats whose size needs the whole pass", async () => {
    expect(await planStrip("image/jpeg", async () => new Uint8Array(0), 0, [], [])).toBeNull();
  });
});
