/** stripStream(): the byte-array oracle's output, list of what was dropped and verdict (strip-oracle.ts), for every input and every chunking, in flat memory. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type ImageKind, STRIP_OUTPUT_CHUNK, StripError, stripStream } from "../../src/image/strip.ts";
import { be32, BUILT, bytes, FIXTURE_CASES, fixture, IEND, IHDR, PNG_SIG, pngChunk, VECTORS } from "./strip-images.ts";
import { oracleStrip } from "./strip-oracle.ts";

const MiB = 1024 * 1024;
/** Source chunk sizes: byte by byte, odd, page-sized, and the whole file at once. */
const CHUNKINGS = [1, 7, 4096, Number.POSITIVE_INFINITY];

const inChunks = (input: Uint8Array, size: number) =>
  async function* () {
    for (let at = 0; at < input.length; at += size) yield input.subarray(at, at + size);
  };

type Outcome = { bytes: Uint8Array; removed: string[]; kept: string[] } | { error: string };

function viaOracle(kind: ImageKind, input: Uint8Array): Outcome {
  try {
    return oracleStrip(kind, input);
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
}

async function viaStream(kind: ImageKind, input: Uint8Array, size: number): Promise<Outcome> {
  const removed: string[] = [];
  const kept: string[] = [];
  const out: Uint8Array[] = [];
  try {
    for await (const chunk of stripStream(kind, inChunks(input, size), removed, kept)) {
      expect(chunk.length).toBeLessThanOrEqual(STRIP_OUTPUT_CHUNK);
      out.push(chunk);
    }
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    return { error: error.message };
  }
  return { bytes: new Uint8Array(Buffer.concat(out)), removed, kept };
}

/** Both refuse with the same message, or both give the same bytes and the same list. */
async function expectSameAsOracle(kind: ImageKind, input: Uint8Array, chunkings = CHUNKINGS, label = "") {
  const expected = viaOracle(kind, input);
  for (const size of chunkings) expect(await viaStream(kind, input, size), `${label} in ${size}-byte chunks`).toEqual(expected);
  return expected;
}

/** Deterministic pseudo-random numbers below `n`, so a failure can be replayed. */
function seeded(seed: number) {
  return (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
}

describe("stripStream() gives what the byte-array oracle gives", () => {
  for (const { file, kind, removed } of FIXTURE_CASES.concat([{ file: "sample.png", kind: "image/png", removed: [] }])) {
    test(`on ${file}, in every chunking`, async () => {
      const outcome = await expectSameAsOracle(kind, fixture(file));
      expect(outcome).toMatchObject({ removed });
    });
  }

  for (const { name, kind, input, output, removed, kept = [] } of BUILT) {
    test(`on a built image that ${name}`, async () => {
      expect(await expectSameAsOracle(kind, input)).toEqual({ bytes: output, removed, kept });
    });
  }

  for (const v of VECTORS) {
    test(`on the vector "${v.name}": ${v.outcome === "ok" ? "ok" : "StripError"}`, async () => {
      const outcome = await expectSameAsOracle(v.kind, v.input);
      if (v.outcome === "ok") expect(outcome).toMatchObject({ removed: [] });
      else expect(outcome).toMatchObject({ error: expect.stringMatching(v.outcome) });
    });
  }

  for (const { file, kind } of FIXTURE_CASES) {
    test(`on ${file} cut short at 50 places: both refuse it, with the same message`, async () => {
      const input = fixture(file);
      for (let i = 0; i < 50; i++) {
        const cut = Math.floor((input.length * i) / 50);
        expect(await expectSameAsOracle(kind, input.subarray(0, cut), CHUNKINGS, `cut at ${cut}`)).toHaveProperty("error");
      }
    }, 30_000);

    test(`on ${file} with seeded random corruption: both refuse it alike, or both give the same bytes`, async () => {
      const input = fixture(file);
      const random = seeded(input.length);
      for (let round = 0; round < 40; round++) {
        const mutated = input.slice();
        for (let k = 0; k <= random(4); k++) mutated[random(Math.min(mutated.length, 512 + random(mutated.length)))] = random(256);
        await expectSameAsOracle(kind, mutated, CHUNKINGS, `round ${round}`);
      }
    }, 30_000);
  }
});

describe("stripStream() on its own terms", () => {
  test("refuses a source that yields something other than bytes", async () => {
    const source = async function* () {
      yield "not bytes" as unknown as Uint8Array;
    };
    await expect(collect(stripStream("image/png", source, []))).rejects.toThrow(StripError);
  });

  test("reads through empty source chunks", async () => {
    const input = fixture("gps.jpg");
    const source = async function* () {
      for (let at = 0; at < input.length; at += 1000) yield* [new Uint8Array(0), input.subarray(at, at + 1000), new Uint8Array(0)];
    };
    const removed: string[] = [];
    const kept: string[] = [];
    const out: Outcome = { bytes: new Uint8Array(Buffer.concat(await collect(stripStream("image/jpeg", source, removed, kept)))), removed, kept };
    expect(out).toEqual(oracleStrip("image/jpeg", input));
  });

  test("closes the source when the image ends before it does", async () => {
    let closed = false;
    const source = async function* () {
      try {
        yield bytes(PNG_SIG, IHDR, pngChunk("IDAT", [1]), IEND);
        yield new Uint8Array(10); // after IEND: seen, never read through
        yield new Uint8Array(10);
      } finally {
        closed = true;
      }
    };
    const removed: string[] = [];
    await collect(stripStream("image/png", source, removed));
    expect(removed).toEqual(["PNG data after IEND"]);
    expect(closed).toBe(true);
  });

  test("refuses a WebP that changes between its two passes", async () => {
    const clean = fixture("gps.webp");
    const changed = clean.slice();
    changed.set(bytes("JUNK"), 12 + 8 + 10); // the chunk after VP8X (an unknown one is dropped)
    let pass = 0;
    const source = () => inChunks(pass++ === 0 ? clean : changed, 4096)();
    await expect(collect(stripStream("image/webp", source, []))).rejects.toThrow(/changed between the two passes/);
  });
});

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

describe("stripStream() in flat memory", () => {
  test("strips a 64 MiB PNG that is never whole in memory, with RSS growing by less than 32 MiB", async () => {
    const IDAT_DATA = MiB + 5; // each chunk is larger than an output chunk
    const COUNT = 64;
    // One IDAT chunk of random data, made once and read again and again: the source allocates nothing
    // while it streams, so any growth in RSS is the stripper's.
    const idat = new Uint8Array(12 + IDAT_DATA);
    idat.set([...be32(IDAT_DATA), ...bytes("IDAT")]);
    for (let at = 8; at < 8 + IDAT_DATA; at += 65536) crypto.getRandomValues(idat.subarray(at, Math.min(at + 65536, 8 + IDAT_DATA)));
    idat.set(be32(Bun.hash.crc32(idat.subarray(4, 8 + IDAT_DATA))), 8 + IDAT_DATA);
    const expected = createHash("sha256");
    /** Signature, IHDR, 64 IDAT chunks cut at drifting places, a tEXt at the end, IEND: made as read. */
    async function* png(): AsyncGenerator<Uint8Array> {
      for (const part of [bytes(PNG_SIG), IHDR]) {
        expected.update(part);
        yield part;
      }
      for (let i = 0; i < COUNT; i++) {
        const cut = (i * 7919) % idat.length;
        expected.update(idat);
        yield idat.subarray(0, cut);
        yield idat.subarray(cut);
      }
      yield pngChunk("tEXt", "GPS\x0048.8584 N, 2.2945 E");
      expected.update(IEND);
      yield IEND;
    }

    const got = createHash("sha256");
    let [largest, total] = [0, 0];
    const removed: string[] = [];
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    let peak = before;
    for await (const chunk of stripStream("image/png", png, removed)) {
      got.update(chunk);
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const after = process.memoryUsage().rss;
    console.log(`64 MiB PNG stripped: RSS ${(before / MiB).toFixed(1)} MiB before, +${((peak - before) / MiB).toFixed(1)} MiB at the peak, +${((after - before) / MiB).toFixed(1)} MiB after`);

    expect(removed).toEqual(["PNG tEXt"]);
    expect(got.digest("hex")).toBe(expected.digest("hex")); // the image, byte for byte, without the tEXt chunk
    expect(total).toBe(PNG_SIG.length + IHDR.length + COUNT * idat.length + IEND.length);
    expect(total).toBeGreaterThan(64 * MiB);
    expect(largest).toBeLessThanOrEqual(MiB);
    expect(peak - before).toBeLessThan(32 * MiB);
  }, 60_000);
});
