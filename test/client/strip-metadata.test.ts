/** stripMetadata(): real camera-tagged fixtures lose every trace of place and device, and their pixel data stays byte-identical. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { type ImageKind, MAX_STRIP_SIZE, StripError, stripMetadata } from "../../src/client/strip-metadata.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/images");
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
const bytes = (...parts: (number[] | string | Uint8Array)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : [...p])));
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const be16 = (n: number) => [n >> 8, n & 0xff];
const be32 = (n: number) => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const le32 = (n: number) => be32(n).reverse();

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

const FIXTURE_CASES: { file: string; kind: ImageKind; removed: string[] }[] = [
  { file: "gps.jpg", kind: "image/jpeg", removed: ["JPEG APP1 Exif", "JPEG APP13 Photoshop/IPTC", "JPEG APP1 XMP", "JPEG COM"] },
  { file: "progressive.jpg", kind: "image/jpeg", removed: ["JPEG APP1 Exif"] },
  { file: "cmyk.jpg", kind: "image/jpeg", removed: ["JPEG APP1 Exif", "JPEG APP1 XMP"] },
  { file: "sample.jpg", kind: "image/jpeg", removed: ["JPEG APP1 Exif", "JPEG APP1 XMP"] },
  { file: "gps.png", kind: "image/png", removed: ["PNG tIME", "PNG tEXt", "PNG iTXt", "PNG eXIf", "PNG zTXt"] },
  { file: "palette.png", kind: "image/png", removed: ["PNG tIME", "PNG tEXt", "PNG eXIf"] },
  { file: "gps.webp", kind: "image/webp", removed: ["WebP EXIF", "WebP XMP"] },
  { file: "lossless-alpha.webp", kind: "image/webp", removed: ["WebP EXIF"] },
  { file: "alpha.webp", kind: "image/webp", removed: ["WebP EXIF", "WebP XMP"] },
  { file: "animated.webp", kind: "image/webp", removed: ["WebP EXIF", "WebP XMP"] },
  { file: "gps.gif", kind: "image/gif", removed: ["GIF comment", "GIF XMP"] },
  { file: "animated.gif", kind: "image/gif", removed: ["GIF comment", "GIF application extension ImageMagick", "GIF XMP"] },
];

describe("stripMetadata() on camera-tagged fixtures", () => {
  for (const { file, kind, removed } of FIXTURE_CASES) {
    test(`removes every location and device trace from ${file}`, () => {
      const input = fixture(file);
      expect(secretsIn(input).length).toBeGreaterThan(0); // the fixture really carries metadata
      const result = stripMetadata(kind, input);
      expect(result.removed).toEqual(removed);
      expect(secretsIn(result.bytes)).toEqual([]);
      expect(result.bytes.length).toBeLessThan(input.length);
    });

    test(`is idempotent and leaves the input untouched for ${file}`, () => {
      const input = fixture(file);
      const copy = input.slice();
      const once = stripMetadata(kind, input);
      const twice = stripMetadata(kind, once.bytes);
      expect(twice.removed).toEqual([]);
      expect(twice.bytes).toEqual(once.bytes);
      once.bytes.fill(0);
      expect(input).toEqual(copy);
    });
  }

  test("keeps JPEG scan data, JFIF, the ICC profile and Adobe's APP14 byte-identical", () => {
    for (const file of ["gps.jpg", "progressive.jpg", "cmyk.jpg", "sample.jpg"]) {
      const before = jpegParts(fixture(file));
      const after = jpegParts(stripMetadata("image/jpeg", fixture(file)).bytes);
      expect(after.scans).toEqual(before.scans); // from the first SOS to EOI: the compressed pixels
      const kept = before.segments.filter((s) => ![0xe1, 0xed, 0xfe].includes(s.marker));
      expect(after.segments).toEqual(kept);
    }
    const markers = (file: string) => jpegParts(stripMetadata("image/jpeg", fixture(file)).bytes).segments.map((s) => s.id.slice(0, 5));
    expect(markers("gps.jpg")).toContain("ICC_P");
    expect(markers("gps.jpg")).toContain("JFIF\0");
    expect(markers("cmyk.jpg")).toContain("Adobe");
  });

  test("keeps every PNG chunk but the metadata ones byte-identical, IDAT included", () => {
    for (const file of ["gps.png", "palette.png"]) {
      const before = pngChunks(fixture(file));
      const after = pngChunks(stripMetadata("image/png", fixture(file)).bytes);
      const drop = new Set(["eXIf", "tEXt", "iTXt", "zTXt", "tIME"]);
      expect(after).toEqual(before.filter(([type]) => !drop.has(type)));
      expect(after.map(([t]) => t)).toContain("IDAT");
    }
    expect(pngChunks(stripMetadata("image/png", fixture("gps.png")).bytes).map(([t]) => t)).toEqual(["IHDR", "iCCP", "cHRM", "bKGD", "IDAT", "IEND"]);
  });

  test("keeps WebP bitstreams, alpha, animation frames and ICC byte-identical and clears the EXIF and XMP flags", () => {
    for (const file of ["gps.webp", "lossless-alpha.webp", "alpha.webp", "animated.webp"]) {
      const before = webpChunks(fixture(file));
      const out = stripMetadata("image/webp", fixture(file)).bytes;
      const after = webpChunks(out);
      expect(new DataView(out.buffer).getUint32(4, true)).toBe(out.length - 8);
      expect(after.filter(([t]) => t !== "VP8X")).toEqual(before.filter(([t]) => !["VP8X", "EXIF", "XMP "].includes(t)));
      const [flagsBefore, flagsAfter] = [before, after].map((c) => c.find(([t]) => t === "VP8X")![1]);
      expect(flagsAfter![0]).toBe(flagsBefore![0]! & ~0x0c);
      expect(flagsAfter!.subarray(1)).toEqual(flagsBefore!.subarray(1));
    }
    expect(webpChunks(stripMetadata("image/webp", fixture("animated.webp")).bytes).map(([t]) => t)).toEqual(["VP8X", "ICCP", "ANIM", "ANMF", "ANMF"]);
  });

  test("keeps GIF frames, timing and looping byte-identical", () => {
    for (const file of ["gps.gif", "animated.gif"]) {
      const before = gifBlocks(fixture(file));
      const after = gifBlocks(stripMetadata("image/gif", fixture(file)).bytes);
      expect(after).toEqual(before.filter(([label, raw]) => label === "image" || label === "f9" || latin1(raw).includes("NETSCAPE2.0")));
    }
    expect(gifBlocks(stripMetadata("image/gif", fixture("animated.gif")).bytes).map(([l]) => l)).toEqual(["f9", "ff", "image", "f9", "image"]);
  });

  test("leaves the metadata-free sample.png exactly as it was", () => {
    const input = fixture("sample.png");
    expect(stripMetadata("image/png", input)).toEqual({ bytes: input, removed: [] });
  });
});

// --- Images built byte by byte, so every rule is checked without a fixture. ---

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const pngChunk = (type: string, data: number[] | Uint8Array | string) => {
  const body = bytes(type, data);
  return bytes(be32(body.length - 4), body, be32(Bun.hash.crc32(body)));
};
const IHDR = pngChunk("IHDR", [...be32(1), ...be32(1), 8, 0, 0, 0, 0]); // 1x1, 8-bit grey
const IDAT = pngChunk("IDAT", deflateSync(Uint8Array.of(0, 0x80)));
const IEND = pngChunk("IEND", []);

const jpegSeg = (marker: number, body: number[] | string) => bytes([0xff, marker], be16(bytes(body).length + 2), body);
const SOF0 = jpegSeg(0xc0, [8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
const SOS = jpegSeg(0xda, [1, 1, 0, 0, 63, 0]);
const SCAN = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xff]; // stuffed 0xFF, a restart marker, fill
const EOI = [0xff, 0xd9];

const riff = (...chunks: Uint8Array[]) => {
  const body = bytes("WEBP", ...chunks);
  return bytes("RIFF", le32(body.length), body);
};
const webpChunk = (fourcc: string, data: number[] | string) => {
  const d = bytes(data);
  return bytes(fourcc, le32(d.length), d, d.length & 1 ? [0] : []);
};

describe("stripMetadata() on images built in code", () => {
  test("drops PNG text, private ancillary chunks and bytes after IEND, keeping the rest verbatim", () => {
    const input = bytes(PNG_SIG, IHDR, pngChunk("tEXt", "Comment\0at home"), pngChunk("prVt", "vendor"), IDAT, IEND, "trailing");
    const { bytes: out, removed } = stripMetadata("image/png", input);
    expect(out).toEqual(bytes(PNG_SIG, IHDR, IDAT, IEND));
    expect(removed).toEqual(["PNG tEXt", "PNG prVt", "PNG data after IEND"]);
  });

  test("drops JPEG Exif, MPF, unknown APPn, comments and appended images, keeping JFIF, ICC and every scan", () => {
    const jfif = jpegSeg(0xe0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    const icc = jpegSeg(0xe2, "ICC_PROFILE\0\x01\x01profile");
    const dht = jpegSeg(0xc4, [0, ...new Array(16).fill(0)]);
    const secondImage = bytes([0xff, 0xd8], jpegSeg(0xe1, "Exif\0\0GPS"), EOI);
    const input = bytes([0xff, 0xd8], jfif, jpegSeg(0xe1, "Exif\0\0MM"), icc, jpegSeg(0xe2, "MPF\0data"), jpegSeg(0xe3, "Meta"),
      [0xff, 0xff], jpegSeg(0xfe, "home"), SOF0, dht, SOS, SCAN, dht, jpegSeg(0xfe, "mid-scan"), SOS, SCAN, EOI, secondImage);
    const { bytes: out, removed } = stripMetadata("image/jpeg", input);
    expect(out).toEqual(bytes([0xff, 0xd8], jfif, icc, SOF0, dht, SOS, SCAN, dht, SOS, SCAN, EOI));
    expect(removed).toEqual(["JPEG APP1 Exif", "JPEG APP2 MPF", "JPEG APP3", "JPEG COM", "JPEG data after end of image"]);
  });

  test("drops WebP EXIF, XMP and unknown chunks, clears only the EXIF and XMP flags and fixes the RIFF size", () => {
    const vp8x = (flags: number) => webpChunk("VP8X", [flags, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const alph = webpChunk("ALPH", [0, 1, 2]); // odd size: padded
    const vp8l = webpChunk("VP8L", [0x2f, 0, 0, 0, 0]);
    const input = riff(vp8x(0x1c), alph, vp8l, webpChunk("EXIF", "MM\0*GPS"), webpChunk("XMP ", "<x:xmpmeta/>"), webpChunk("JUNK", "x"));
    const { bytes: out, removed } = stripMetadata("image/webp", bytes(input, "after the riff"));
    expect(out).toEqual(riff(vp8x(0x10), alph, vp8l));
    expect(removed).toEqual(["WebP EXIF", "WebP XMP", "WebP JUNK chunk", "WebP data after RIFF"]);
  });

  test("drops GIF comments and XMP but keeps looping, timing and frames", () => {
    const head = bytes("GIF89a", [1, 0, 1, 0, 0x80, 0, 0], [0, 0, 0, 255, 255, 255]); // 1x1, 2-colour table
    const loop = bytes([0x21, 0xff, 11], "NETSCAPE2.0", [3, 1, 0, 0, 0]);
    const gce = bytes([0x21, 0xf9, 4, 0, 10, 0, 0, 0]);
    const image = bytes([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0]);
    const comment = bytes([0x21, 0xfe, 4], "home", [0]);
    const xmp = bytes([0x21, 0xff, 11], "XMP DataXMP", [5], "<x/>!", [0]);
    const { bytes: out, removed } = stripMetadata("image/gif", bytes(head, comment, loop, xmp, gce, image, [0x3b]));
    expect(out).toEqual(bytes(head, loop, gce, image, [0x3b]));
    expect(removed).toEqual(["GIF comment", "GIF XMP"]);
  });
});

// --- Failure vectors: every one names its expected outcome. ---

const minimalPng = bytes(PNG_SIG, IHDR, IDAT, IEND);
const minimalJpeg = bytes([0xff, 0xd8], SOF0, SOS, SCAN, EOI);
const minimalWebp = riff(webpChunk("VP8L", [0x2f, 0, 0, 0, 0]));
const minimalGif = bytes("GIF89a", [1, 0, 1, 0, 0, 0, 0], [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 1, 0, 0], [0x3b]);
const badCrc = IEND.slice();
badCrc[badCrc.length - 1]! ^= 1;

const VECTORS: { name: string; kind: ImageKind; input: Uint8Array; outcome: "ok" | RegExp }[] = [
  { name: "minimal png", kind: "image/png", input: minimalPng, outcome: "ok" },
  { name: "minimal jpeg", kind: "image/jpeg", input: minimalJpeg, outcome: "ok" },
  { name: "minimal webp", kind: "image/webp", input: minimalWebp, outcome: "ok" },
  { name: "minimal gif", kind: "image/gif", input: minimalGif, outcome: "ok" },
  { name: "empty png", kind: "image/png", input: bytes([]), outcome: /bad signature/ },
  { name: "png without IEND", kind: "image/png", input: bytes(PNG_SIG, IHDR, IDAT), outcome: /no IEND/ },
  { name: "png with a bad crc", kind: "image/png", input: bytes(PNG_SIG, IHDR, IDAT, badCrc), outcome: /bad crc/ },
  { name: "png chunk longer than the file", kind: "image/png", input: bytes(PNG_SIG, IHDR, be32(1000), "IDAT", [0]), outcome: /truncated/ },
  { name: "png chunk length over 2^31-1", kind: "image/png", input: bytes(PNG_SIG, [0x80, 0, 0, 0], "IHDR"), outcome: /over 2\^31-1/ },
  { name: "png chunk type not letters", kind: "image/png", input: bytes(PNG_SIG, pngChunk("IH1R", [])), outcome: /four letters/ },
  { name: "png not starting with IHDR", kind: "image/png", input: bytes(PNG_SIG, IDAT, IEND), outcome: /not IHDR/ },
  { name: "jpeg without SOI", kind: "image/jpeg", input: bytes([0xff, 0xd9]), outcome: /start-of-image/ },
  { name: "jpeg without EOI", kind: "image/jpeg", input: bytes([0xff, 0xd8], SOF0, SOS, SCAN), outcome: /no end marker/ },
  { name: "jpeg segment past the end", kind: "image/jpeg", input: bytes([0xff, 0xd8, 0xff, 0xe1, 0x40, 0, 1, 2]), outcome: /truncated/ },
  { name: "jpeg segment length below 2", kind: "image/jpeg", input: bytes([0xff, 0xd8, 0xff, 0xe1, 0, 1]), outcome: /minimum of 2/ },
  { name: "jpeg garbage between segments", kind: "image/jpeg", input: bytes([0xff, 0xd8, 0x00], SOF0), outcome: /expected a marker/ },
  { name: "jpeg EOI before any scan", kind: "image/jpeg", input: bytes([0xff, 0xd8], SOF0, EOI), outcome: /before any scan/ },
  { name: "jpeg scan before a frame", kind: "image/jpeg", input: bytes([0xff, 0xd8], SOS, SCAN, EOI), outcome: /before any frame/ },
  { name: "jpeg second SOI", kind: "image/jpeg", input: bytes([0xff, 0xd8, 0xff, 0xd8]), outcome: /unexpected marker/ },
  { name: "webp not RIFF", kind: "image/webp", input: bytes("RIFX", le32(4), "WEBP"), outcome: /not a RIFF/ },
  { name: "webp RIFF size past the end", kind: "image/webp", input: bytes(minimalWebp.subarray(0, -2)), outcome: /truncated/ },
  { name: "webp chunk past the RIFF end", kind: "image/webp", input: riff(bytes("VP8L", le32(99), [0, 0])), outcome: /truncated/ },
  { name: "webp with no chunks", kind: "image/webp", input: riff(), outcome: /no chunks/ },
  { name: "webp starting with EXIF", kind: "image/webp", input: riff(webpChunk("EXIF", "MM")), outcome: /first chunk/ },
  { name: "webp VP8X of the wrong size", kind: "image/webp", input: riff(webpChunk("VP8X", [0, 0])), outcome: /VP8X chunk size/ },
  { name: "gif bad signature", kind: "image/gif", input: bytes("GIF90a", [1, 0, 1, 0, 0, 0, 0, 0x3b]), outcome: /bad signature/ },
  { name: "gif without trailer", kind: "image/gif", input: minimalGif.subarray(0, -1), outcome: /truncated/ },
  { name: "gif unknown block", kind: "image/gif", input: bytes(minimalGif.subarray(0, 13), [0x99]), outcome: /unknown block/ },
  { name: "gif trailer before any image", kind: "image/gif", input: bytes(minimalGif.subarray(0, 13), [0x3b]), outcome: /before any image/ },
  { name: "png bytes claimed as jpeg", kind: "image/jpeg", input: minimalPng, outcome: /start-of-image/ },
  { name: "unsupported kind", kind: "image/tiff" as ImageKind, input: minimalPng, outcome: /cannot strip metadata/ },
];

describe("stripMetadata() failure vectors", () => {
  for (const v of VECTORS) {
    test(`${v.name}: ${v.outcome === "ok" ? "ok" : "StripError"}`, () => {
      if (v.outcome === "ok") return void expect(stripMetadata(v.kind, v.input).removed).toEqual([]);
      expect(() => stripMetadata(v.kind, v.input)).toThrow(StripError);
      expect(() => stripMetadata(v.kind, v.input)).toThrow(v.outcome);
    });
  }

  test("refuses an input over MAX_STRIP_SIZE before parsing it", () => {
    expect(() => stripMetadata("image/png", new Uint8Array(MAX_STRIP_SIZE + 1))).toThrow(/limit/);
  });

  test("rejects every fixture truncated anywhere with a StripError", () => {
    for (const { file, kind } of FIXTURE_CASES) {
      const input = fixture(file);
      const cuts = new Set([...Array(40).keys(), ...Array.from({ length: 80 }, (_, i) => Math.floor((input.length * i) / 80)), input.length - 1]);
      for (const cut of cuts) expect(() => stripMetadata(kind, input.subarray(0, cut)), `${file} cut at ${cut}`).toThrow(StripError);
    }
  });

  test("answers corrupted fixtures with a result or a StripError, never another exception", () => {
    let seed = 0x5eed;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (const { file, kind } of FIXTURE_CASES) {
      const input = fixture(file);
      for (let round = 0; round < 60; round++) {
        const mutated = input.slice();
        for (let k = 0; k <= random(4); k++) mutated[random(Math.min(mutated.length, 512 + random(mutated.length)))] = random(256);
        try {
          expect(stripMetadata(kind, mutated).bytes.length).toBeLessThanOrEqual(mutated.length);
        } catch (e) {
          expect(e).toBeInstanceOf(StripError);
        }
      }
    }
  });
});
