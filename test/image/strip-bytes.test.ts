/** stripBytes() (the stream walkers over one chunk): real camera-tagged fixtures lose every trace of place and device, and their pixel data stays byte-identical. */
import { describe, expect, test } from "bun:test";
import { StripError } from "../../src/image/bytes.ts";
import { MAX_STRIP_SIZE, stripBytes } from "../../src/image/strip-bytes.ts";
import { BUILT, FIXTURE_CASES, fixture, latin1, VECTORS } from "./strip-images.ts";

// --- Independent walkers: the tests do not trust the code under test to find the pixel data. ---

/** JPEG: the marker segments before the first SOS (marker, identifier) and everything from that SOS on. */
function jpegParts(b: Uint8Array) {
  const segments: { marker: number; id: string }[] = [];
  let pos = 2;
  while (b[pos + 1] !== 0xda) {
    const length = (b[pos + 2]! << 8) | b[pos + 3]!;
    segments.push({ marker: b[pos + 1]!, id: latin1(b.subarray(pos + 4, pos + 4 + Math.min(12, length - 2))) });
    pos += 2 + length;
  }
  return { segments, scans: b.subarray(pos) };
}

/** PNG or WebP chunks as [type, data]. */
function pngChunks(b: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const view = new DataView(b.buffer, b.byteOffset);
  for (let pos = 8; pos < b.length; ) {
    const length = view.getUint32(pos);
    out.push([latin1(b.subarray(pos + 4, pos + 8)), b.subarray(pos + 8, pos + 8 + length)]);
    pos += 12 + length;
  }
  return out;
}
function webpChunks(b: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const view = new DataView(b.buffer, b.byteOffset);
  for (let pos = 12; pos < b.length; ) {
    const size = view.getUint32(pos + 4, true);
    out.push([latin1(b.subarray(pos, pos + 4)), b.subarray(pos + 8, pos + 8 + size)]);
    pos += 8 + size + (size & 1);
  }
  return out;
}

/** GIF blocks as [label, raw bytes]: "image", an extension label in hex, or "trailer". */
function gifBlocks(b: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const table = (packed: number) => (packed & 0x80 ? 3 << ((packed & 7) + 1) : 0);
  const subBlocks = (p: number) => {
    while (b[p] !== 0) p += 1 + b[p]!;
    return p + 1;
  };
  let pos = 13 + table(b[10]!);
  while (b[pos] !== 0x3b) {
    const end = b[pos] === 0x2c ? subBlocks(pos + 11 + table(b[pos + 9]!)) : subBlocks(pos + 2);
    out.push([b[pos] === 0x2c ? "image" : b[pos + 1]!.toString(16), b.subarray(pos, end)]);
    pos = end;
  }
  return out;
}

/** Text that the fixtures' metadata holds and the pixels never do. */
const SECRETS = ["Exif", "ns.adobe.com", "GPS", "Canon", "EOS-FixtureCam", "Fixture-Author", "Eiffel", "Paris", "secret-place", "tower", "Photoshop"];
const secretsIn = (b: Uint8Array) => SECRETS.filter((s) => latin1(b).includes(s));

describe("stripBytes() on camera-tagged fixtures", () => {
  for (const { file, kind, removed } of FIXTURE_CASES) {
    test(`removes every location and device trace from ${file}`, async () => {
      const input = fixture(file);
      expect(secretsIn(input).length).toBeGreaterThan(0); // the fixture really carries metadata
      const result = await stripBytes(kind, input);
      expect(result.removed).toEqual(removed);
      expect(secretsIn(result.bytes)).toEqual([]);
      expect(result.bytes.length).toBeLessThan(input.length);
    });

    test(`is idempotent and leaves the input untouched for ${file}`, async () => {
      const input = fixture(file);
      const copy = input.slice();
      const once = await stripBytes(kind, input);
      const twice = await stripBytes(kind, once.bytes);
      expect(twice.removed).toEqual([]);
      expect(twice.bytes).toEqual(once.bytes);
      once.bytes.fill(0);
      expect(input).toEqual(copy);
    });
  }

  test("keeps JPEG scan data, JFIF, the ICC profile and Adobe's APP14 byte-identical", async () => {
    for (const file of ["gps.jpg", "progressive.jpg", "cmyk.jpg", "sample.jpg"]) {
      const before = jpegParts(fixture(file));
      const after = jpegParts((await stripBytes("image/jpeg", fixture(file))).bytes);
      expect(after.scans).toEqual(before.scans); // from the first SOS to EOI: the compressed pixels
      const kept = before.segments.filter((s) => ![0xe1, 0xed, 0xfe].includes(s.marker));
      expect(after.segments).toEqual(kept);
    }
    const markers = async (file: string) => jpegParts((await stripBytes("image/jpeg", fixture(file))).bytes).segments.map((s) => s.id.slice(0, 5));
    expect(await markers("gps.jpg")).toContain("ICC_P");
    expect(await markers("gps.jpg")).toContain("JFIF\0");
    expect(await markers("cmyk.jpg")).toContain("Adobe");
  });

  test("keeps every PNG chunk but the metadata ones byte-identical, IDAT included", async () => {
    for (const file of ["gps.png", "palette.png"]) {
      const before = pngChunks(fixture(file));
      const after = pngChunks((await stripBytes("image/png", fixture(file))).bytes);
      const drop = new Set(["eXIf", "tEXt", "iTXt", "zTXt", "tIME"]);
      expect(after).toEqual(before.filter(([type]) => !drop.has(type)));
      expect(after.map(([t]) => t)).toContain("IDAT");
    }
    expect(pngChunks((await stripBytes("image/png", fixture("gps.png"))).bytes).map(([t]) => t)).toEqual(["IHDR", "iCCP", "cHRM", "bKGD", "IDAT", "IEND"]);
  });

  test("keeps WebP bitstreams, alpha, animation frames and ICC byte-identical and clears the EXIF and XMP flags", async () => {
    for (const file of ["gps.webp", "lossless-alpha.webp", "alpha.webp", "animated.webp"]) {
      const before = webpChunks(fixture(file));
      const out = (await stripBytes("image/webp", fixture(file))).bytes;
      const after = webpChunks(out);
      expect(new DataView(out.buffer).getUint32(4, true)).toBe(out.length - 8);
      expect(after.filter(([t]) => t !== "VP8X")).toEqual(before.filter(([t]) => !["VP8X", "EXIF", "XMP "].includes(t)));
      const [flagsBefore, flagsAfter] = [before, after].map((c) => c.find(([t]) => t === "VP8X")![1]);
      expect(flagsAfter![0]).toBe(flagsBefore![0]! & ~0x0c);
      expect(flagsAfter!.subarray(1)).toEqual(flagsBefore!.subarray(1));
    }
    expect(webpChunks((await stripBytes("image/webp", fixture("animated.webp"))).bytes).map(([t]) => t)).toEqual(["VP8X", "ICCP", "ANIM", "ANMF", "ANMF"]);
  });

  test("keeps GIF frames, timing and looping byte-identical", async () => {
    for (const file of ["gps.gif", "animated.gif"]) {
      const before = gifBlocks(fixture(file));
      const after = gifBlocks((await stripBytes("image/gif", fixture(file))).bytes);
      expect(after).toEqual(before.filter(([label, raw]) => label === "image" || label === "f9" || latin1(raw).includes("NETSCAPE2.0")));
    }
    expect(gifBlocks((await stripBytes("image/gif", fixture("animated.gif"))).bytes).map(([l]) => l)).toEqual(["f9", "ff", "image", "f9", "image"]);
  });

  test("names the colour metadata it keeps, once each, in file order", async () => {
    const kept = async (kind: Parameters<typeof stripBytes>[0], file: string) => (await stripBytes(kind, fixture(file))).kept;
    expect(await kept("image/jpeg", "gps.jpg")).toEqual(["JPEG APP2 ICC colour profile"]);
    expect(await kept("image/png", "gps.png")).toEqual(["PNG iCCP", "PNG cHRM"]);
    expect(await kept("image/png", "palette.png")).toEqual(["PNG gAMA", "PNG cHRM"]);
    expect(await kept("image/webp", "animated.webp")).toEqual(["WebP ICCP colour profile"]);
    expect(await kept("image/jpeg", "progressive.jpg")).toEqual([]);
    expect(await kept("image/gif", "gps.gif")).toEqual([]);
  });

  test("leaves the metadata-free sample.png exactly as it was", async () => {
    const input = fixture("sample.png");
    expect(await stripBytes("image/png", input)).toEqual({ bytes: input, removed: [], kept: [] });
  });
});

describe("stripBytes() on images built in code", () => {
  for (const { name, kind, input, output, removed, kept = [] } of BUILT) {
    test(name, async () => {
      expect(await stripBytes(kind, input)).toEqual({ bytes: output, removed, kept });
    });
  }
});

describe("stripBytes() failure vectors", () => {
  for (const v of VECTORS) {
    test(`${v.name}: ${v.outcome === "ok" ? "ok" : "StripError"}`, async () => {
      if (v.outcome === "ok") return void expect((await stripBytes(v.kind, v.input)).removed).toEqual([]);
      await expect(stripBytes(v.kind, v.input)).rejects.toThrow(StripError);
      await expect(stripBytes(v.kind, v.input)).rejects.toThrow(v.outcome);
    });
  }

  test("refuses an input over MAX_STRIP_SIZE before parsing it", async () => {
    await expect(stripBytes("image/png", new Uint8Array(MAX_STRIP_SIZE + 1))).rejects.toThrow(/limit/);
  });

  test("rejects every fixture truncated anywhere with a StripError", async () => {
    for (const { file, kind } of FIXTURE_CASES) {
      const input = fixture(file);
      const cuts = new Set([...Array(40).keys(), ...Array.from({ length: 80 }, (_, i) => Math.floor((input.length * i) / 80)), input.length - 1]);
      for (const cut of cuts) await expect(stripBytes(kind, input.subarray(0, cut)), `${file} cut at ${cut}`).rejects.toThrow(StripError);
    }
  });

  test("answers corrupted fixtures with a result or a StripError, never another exception", async () => {
    let seed = 0x5eed;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (const { file, kind } of FIXTURE_CASES) {
      const input = fixture(file);
      for (let round = 0; round < 60; round++) {
        const mutated = input.slice();
        for (let k = 0; k <= random(4); k++) mutated[random(Math.min(mutated.length, 512 + random(mutated.length)))] = random(256);
        try {
          expect((await stripBytes(kind, mutated)).bytes.length).toBeLessThanOrEqual(mutated.length);
        } catch (e) {
          expect(e).toBeInstanceOf(StripError);
        }
      }
    }
  });
});
