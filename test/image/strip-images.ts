/** Images for the metadata-stripper tests: camera-tagged fixtures, images built byte by byte, and failure vectors. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import type { ImageKind } from "../../src/image/formats.ts";
import { orientationSegment } from "../../src/image/jpeg-orientation.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/images");
export const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
export const bytes = (...parts: (number[] | string | Uint8Array)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : [...p])));
export const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const be16 = (n: number) => [n >> 8, n & 0xff];
export const be32 = (n: number) => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const le32 = (n: number) => be32(n).reverse();

export const FIXTURE_CASES: { file: string; kind: ImageKind; removed: string[] }[] = [
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

// --- Images built byte by byte, so every rule is checked without a fixture. ---

export const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
export const pngChunk = (type: string, data: number[] | Uint8Array | string) => {
  const body = bytes(type, data);
  return bytes(be32(body.length - 4), body, be32(Bun.hash.crc32(body)));
};
export const IHDR = pngChunk("IHDR", [...be32(1), ...be32(1), 8, 0, 0, 0, 0]); // 1x1, 8-bit grey
const IDAT = pngChunk("IDAT", deflateSync(Uint8Array.of(0, 0x80)));
export const IEND = pngChunk("IEND", []);

const jpegSeg = (marker: number, body: number[] | string | Uint8Array) => bytes([0xff, marker], be16(bytes(body).length + 2), body);
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

/** An APP1 Exif segment whose IFD0 holds `entries` ([tag, type, count, value or out-of-line data]), in byte order `order`. */
function exifSeg(order: "II" | "MM", entries: [number, number, number, number[] | string][]): Uint8Array {
  const w16 = (n: number) => (order === "II" ? be16(n).reverse() : be16(n));
  const w32 = (n: number) => (order === "II" ? be32(n).reverse() : be32(n));
  let extra = 8 + 2 + 12 * entries.length + 4;
  const tail: number[] = [];
  const ifd = entries.flatMap(([tag, type, count, value]) => {
    const data = [...bytes(value)];
    if (data.length <= 4) return [...w16(tag), ...w16(type), ...w32(count), ...data, ...new Array(4 - data.length).fill(0)];
    const at = extra;
    extra += data.length;
    tail.push(...data);
    return [...w16(tag), ...w16(type), ...w32(count), ...w32(at)];
  });
  return jpegSeg(0xe1, [...bytes("Exif\0\0", order, order === "II" ? [0x2a, 0] : [0, 0x2a]), ...w32(8), ...w16(entries.length), ...ifd, 0, 0, 0, 0, ...tail]);
}

const jfif = jpegSeg(0xe0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
const icc = jpegSeg(0xe2, "ICC_PROFILE\0\x01\x01profile");
const dht = jpegSeg(0xc4, [0, ...new Array(16).fill(0)]);
const vp8x = (flags: number) => webpChunk("VP8X", [flags, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const alph = webpChunk("ALPH", [0, 1, 2]); // odd size: padded
const vp8l = webpChunk("VP8L", [0x2f, 0, 0, 0, 0]);
const gifHead = bytes("GIF89a", [1, 0, 1, 0, 0x80, 0, 0], [0, 0, 0, 255, 255, 255]); // 1x1, 2-colour table
const gifLoop = bytes([0x21, 0xff, 11], "NETSCAPE2.0", [3, 1, 0, 0, 0]);
const gce = bytes([0x21, 0xf9, 4, 0, 10, 0, 0, 0]);
const gifImage = bytes([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0]);

/** Each with the exact output and list of what was dropped that stripping must give. */
export const BUILT: { name: string; kind: ImageKind; input: Uint8Array; output: Uint8Array; removed: string[]; kept?: string[] }[] = [
  {
    name: "drops PNG text, private ancillary chunks and bytes after IEND, keeping the rest verbatim",
    kind: "image/png",
    input: bytes(PNG_SIG, IHDR, pngChunk("tEXt", "Comment\0at home"), pngChunk("prVt", "vendor"), IDAT, IEND, "trailing"),
    output: bytes(PNG_SIG, IHDR, IDAT, IEND),
    removed: ["PNG tEXt", "PNG prVt", "PNG data after IEND"],
  },
  {
    name: "keeps PNG sRGB, gAMA and cICP verbatim and names them as kept, dropping the eXIf and iTXt beside them (issue 14)",
    kind: "image/png",
    input: bytes(PNG_SIG, IHDR, pngChunk("sRGB", [0]), pngChunk("eXIf", "MM\0*GPS"), pngChunk("gAMA", be32(45455)), pngChunk("cICP", [1, 13, 0, 1]),
      pngChunk("iTXt", "Author\0\0\0\0\0someone"), IDAT, IEND),
    output: bytes(PNG_SIG, IHDR, pngChunk("sRGB", [0]), pngChunk("gAMA", be32(45455)), pngChunk("cICP", [1, 13, 0, 1]), IDAT, IEND),
    removed: ["PNG eXIf", "PNG iTXt"],
    kept: ["PNG sRGB", "PNG gAMA", "PNG cICP"],
  },
  {
    name: "drops JPEG Exif, MPF, unknown APPn, comments and appended images, keeping JFIF, ICC and every scan",
    kind: "image/jpeg",
    input: bytes([0xff, 0xd8], jfif, jpegSeg(0xe1, "Exif\0\0MM"), icc, jpegSeg(0xe2, "MPF\0data"), jpegSeg(0xe3, "Meta"),
      [0xff, 0xff], jpegSeg(0xfe, "home"), SOF0, dht, SOS, SCAN, dht, jpegSeg(0xfe, "mid-scan"), SOS, SCAN, EOI,
      [0xff, 0xd8], jpegSeg(0xe1, "Exif\0\0GPS"), EOI),
    output: bytes([0xff, 0xd8], jfif, icc, SOF0, dht, SOS, SCAN, dht, SOS, SCAN, EOI),
    removed: ["JPEG APP1 Exif", "JPEG APP2 MPF", "JPEG APP3", "JPEG COM", "JPEG data after end of image"],
    kept: ["JPEG APP2 ICC colour profile"],
  },
  {
    name: "replaces the first JPEG Exif (little-endian, with a camera and GPS) by a minimal big-endian Exif holding only its orientation",
    kind: "image/jpeg",
    input: bytes([0xff, 0xd8], jfif, exifSeg("II", [[0x010f, 2, 6, "Apple\0"], [0x0112, 3, 1, [6, 0]], [0x8825, 4, 1, [0, 0, 0, 0]]]), icc,
      exifSeg("MM", [[0x0112, 3, 1, [0, 3]]]), SOF0, SOS, SCAN, EOI),
    output: bytes([0xff, 0xd8], jfif, orientationSegment(6), icc, SOF0, SOS, SCAN, EOI),
    removed: ["JPEG APP1 Exif"],
    kept: ["Exif Orientation 6 (rotate 90 CW)", "JPEG APP2 ICC colour profile"],
  },
  {
    name: "reads a big-endian JPEG Exif orientation (8) after other tags",
    kind: "image/jpeg",
    input: bytes([0xff, 0xd8], exifSeg("MM", [[0x0100, 3, 1, [0, 9]], [0x0112, 3, 1, [0, 8]]]), SOF0, SOS, SCAN, EOI),
    output: bytes([0xff, 0xd8], orientationSegment(8), SOF0, SOS, SCAN, EOI),
    removed: ["JPEG APP1 Exif"],
    kept: ["Exif Orientation 8 (rotate 270 CW)"],
  },
  ...([
    ["the default orientation 1", exifSeg("MM", [[0x0112, 3, 1, [0, 1]]])],
    ["an orientation out of range (9)", exifSeg("MM", [[0x0112, 3, 1, [0, 9]]])],
    ["an orientation of the wrong type (LONG)", exifSeg("MM", [[0x0112, 4, 1, [0, 0, 0, 6]]])],
    ["an IFD0 that runs past the segment", jpegSeg(0xe1, bytes("Exif\0\0MM\0*", be32(8), [0, 40, 0x01, 0x12]))],
    ["an IFD0 offset past the segment", jpegSeg(0xe1, bytes("Exif\0\0II*\0", [0xff, 0xff, 0, 0]))],
    ["a TIFF header that is neither II nor MM", jpegSeg(0xe1, bytes("Exif\0\0XX\0*", be32(8)))],
  ] as const).map(([what, exif]) => ({
    name: `drops a JPEG Exif with ${what} and writes no orientation`,
    kind: "image/jpeg" as const,
    input: bytes([0xff, 0xd8], exif, SOF0, SOS, SCAN, EOI),
    output: bytes([0xff, 0xd8], SOF0, SOS, SCAN, EOI),
    removed: ["JPEG APP1 Exif"],
  })),
  {
    name: "keeps a JPEG-LS scan, where 0xFF is followed by stuffed bits below 0x80, up to its end marker",
    kind: "image/jpeg",
    input: bytes([0xff, 0xd8], jpegSeg(0xf7, [8, 0, 1, 0, 1, 1, 1, 0x11, 0]), SOS, [0x12, 0xff, 0x7f, 0xff, 0x00], EOI),
    output: bytes([0xff, 0xd8], jpegSeg(0xf7, [8, 0, 1, 0, 1, 1, 1, 0x11, 0]), SOS, [0x12, 0xff, 0x7f, 0xff, 0x00], EOI),
    removed: [],
  },
  {
    name: "drops WebP EXIF, XMP and unknown chunks, clears only the EXIF and XMP flags and fixes the RIFF size",
    kind: "image/webp",
    input: bytes(riff(vp8x(0x1c), alph, vp8l, webpChunk("EXIF", "MM\0*GPS"), webpChunk("XMP ", "<x:xmpmeta/>"), webpChunk("JUNK", "x")), "after the riff"),
    output: riff(vp8x(0x10), alph, vp8l),
    removed: ["WebP EXIF", "WebP XMP", "WebP JUNK chunk", "WebP data after RIFF"],
  },
  {
    name: "drops GIF comments and XMP but keeps looping, timing and frames",
    kind: "image/gif",
    input: bytes(gifHead, bytes([0x21, 0xfe, 4], "home", [0]), gifLoop, bytes([0x21, 0xff, 11], "XMP DataXMP", [5], "<x/>!", [0]), gce, gifImage, [0x3b]),
    output: bytes(gifHead, gifLoop, gce, gifImage, [0x3b]),
    removed: ["GIF comment", "GIF XMP"],
  },
  {
    name: "keeps a GIF ICC profile application extension and names it kept",
    kind: "image/gif",
    input: bytes(gifHead, bytes([0x21, 0xff, 11], "ICCRGBG1012", [4], "icc!", [0]), gifImage, [0x3b]),
    output: bytes(gifHead, bytes([0x21, 0xff, 11], "ICCRGBG1012", [4], "icc!", [0]), gifImage, [0x3b]),
    removed: [],
    kept: ["GIF ICC colour profile"],
  },
];

// --- Failure vectors: every one names its expected outcome. ---

const minimalPng = bytes(PNG_SIG, IHDR, IDAT, IEND);
const minimalWebp = riff(webpChunk("VP8L", [0x2f, 0, 0, 0, 0]));
const minimalGif = bytes("GIF89a", [1, 0, 1, 0, 0, 0, 0], [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 1, 0, 0], [0x3b]);
const badCrc = IEND.slice();
badCrc[badCrc.length - 1]! ^= 1;

export const VECTORS: { name: string; kind: ImageKind; input: Uint8Array; outcome: "ok" | RegExp }[] = [
  { name: "minimal png", kind: "image/png", input: minimalPng, outcome: "ok" },
  { name: "minimal jpeg", kind: "image/jpeg", input: bytes([0xff, 0xd8], SOF0, SOS, SCAN, EOI), outcome: "ok" },
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
  { name: "jpeg fill bytes up to the end", kind: "image/jpeg", input: bytes([0xff, 0xd8], SOF0, [0xff, 0xff, 0xff]), outcome: /marker: truncated/ },
  { name: "webp not RIFF", kind: "image/webp", input: bytes("RIFX", le32(4), "WEBP"), outcome: /not a RIFF/ },
  { name: "webp RIFF size past the end", kind: "image/webp", input: bytes(minimalWebp.subarray(0, -2)), outcome: /truncated/ },
  { name: "webp chunk past the RIFF end", kind: "image/webp", input: riff(bytes("VP8L", le32(99), [0, 0])), outcome: /truncated/ },
  { name: "webp with no chunks", kind: "image/webp", input: riff(), outcome: /no chunks/ },
  { name: "webp starting with EXIF", kind: "image/webp", input: riff(webpChunk("EXIF", "MM")), outcome: /first chunk/ },
  { name: "webp VP8X of the wrong size", kind: "image/webp", input: riff(webpChunk("VP8X", [0, 0])), outcome: /VP8X chunk size/ },
  { name: "webp starting with EXIF and cut short", kind: "image/webp", input: riff(webpChunk("EXIF", "MM")).subarray(0, 18), outcome: /riff payload: truncated/ },
  { name: "gif bad signature", kind: "image/gif", input: bytes("GIF90a", [1, 0, 1, 0, 0, 0, 0, 0x3b]), outcome: /bad signature/ },
  { name: "gif without trailer", kind: "image/gif", input: minimalGif.subarray(0, -1), outcome: /truncated/ },
  { name: "gif unknown block", kind: "image/gif", input: bytes(minimalGif.subarray(0, 13), [0x99]), outcome: /unknown block/ },
  { name: "gif trailer before any image", kind: "image/gif", input: bytes(minimalGif.subarray(0, 13), [0x3b]), outcome: /before any image/ },
  { name: "png bytes claimed as jpeg", kind: "image/jpeg", input: minimalPng, outcome: /start-of-image/ },
  { name: "unsupported kind", kind: "image/tiff" as ImageKind, input: minimalPng, outcome: /cannot strip metadata/ },
];
