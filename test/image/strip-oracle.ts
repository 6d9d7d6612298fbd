/**
 * The independent oracle for test/image/strip.test.ts: the byte-array walkers that src/client held
 * beside the streaming ones until both moved to src/image, kept here for tests only (nothing in src
 * imports them). Each walks a whole image held in one array, by offset arithmetic, with none of the
 * streaming reader's chunk handling (views, held-back bytes, pass-through, the two WebP passes), so
 * the differential test checks src/image's one walk per format against a second, separately written
 * one. The rules (what is kept, what is dropped and named, every header check and its message) are
 * not duplicated: they are imported from src/image, and test/image/strip-bytes.test.ts checks them
 * against its own walkers and against images built byte by byte.
 */
import { crc32 } from "node:zlib";
import { concat, hasPrefix, need, noteDropped, StripError } from "../../src/image/bytes.ts";
import type { ImageKind } from "../../src/image/formats.ts";
import type { StripResult } from "../../src/image/strip-bytes.ts";
import { colourTableSize, extensionDropName, GIF_AFTER_END, GIF_ICC, gifBlock, gifHeaderLength, IMAGE_DESCRIPTOR } from "../../src/image/strip-gif.ts";
import {
  checkEnd, checkMarkerStart, checkSoi, EOI, isKeptColour, JPEG_AFTER_END, JPEG_ICC, JPEG_UNENDED_SCAN, newJpegState, scanDataEnd, segmentHeader,
  segmentReplacement, segmentVerdict, SOS,
} from "../../src/image/strip-jpeg.ts";
import { checkPngCrc, checkPngOrder, PNG_AFTER_END, PNG_CHUNK_HEADER, PNG_CRC, PNG_SIGNATURE, pngChunkHeader, pngDropName, pngKeptName } from "../../src/image/strip-png.ts";
import {
  checkWebpChunk, keptData, RIFF_HEADER, RIFF_PAYLOAD, riffEnd, WEBP_AFTER_END, WEBP_CHUNK_HEADER, WEBP_ICC, webpChunkHeader, webpDropName, withRiffSize,
} from "../../src/image/strip-webp.ts";

import { u64be } from "../../src/image/heif-boxes.ts";
import { planFile, planMeta, type MetaPlan, type Range, xmpByte } from "../../src/image/heif-plan.ts";
import { HEIF_BRANDS, MAX_FTYP, MAX_META, MAX_TOP_BOXES } from "../../src/image/strip-heif.ts";

const WALKERS: Record<ImageKind, (input: Uint8Array) => StripResult> = {
  "image/png": stripPng,
  "image/jpeg": stripJpeg,
  "image/gif": stripGif,
  "image/webp": stripWebp,
  "image/heic": stripHeif,
  "image/heif": stripHeif,
  "image/avif": stripHeif,
};

/** The oracle's verdict on `input`: the cleaned image and what was dropped, or a StripError. */
export function oracleStrip(kind: ImageKind, input: Uint8Array): StripResult {
  if (!Object.hasOwn(WALKERS, kind)) throw new StripError(`cannot strip metadata from ${JSON.stringify(String(kind))}`);
  return WALKERS[kind](input);
}

/** Collects the kept slices of the input and the names of what was dropped, then joins them once. */
class Rebuild {
  private readonly parts: Uint8Array[] = [];
  private readonly dropped: string[] = [];
  private readonly kept: string[] = [];

  constructor(private readonly input: Uint8Array) {}

  keep(start: number, end: number): void {
    if (end > start) this.parts.push(this.input.subarray(start, end));
  }

  /** Kept bytes given as they are (a patched header, or a view of the input): `finish` copies them with the rest, so the output never aliases them. */
  add(bytes: Uint8Array): void {
    if (bytes.length > 0) this.parts.push(bytes);
  }

  drop(name: string): void {
    noteDropped(this.dropped, name);
  }

  /** Names a kept block that is metadata (a colour profile, the orientation). */
  note(name: string | null): void {
    if (name) noteDropped(this.kept, name);
  }

  finish(): StripResult {
    return { bytes: concat(this.parts), removed: [...this.dropped], kept: [...this.kept] };
  }
}

function stripPng(b: Uint8Array): StripResult {
  if (!hasPrefix(b, 0, PNG_SIGNATURE)) throw new StripError("png: bad signature");
  const out = new Rebuild(b);
  out.keep(0, PNG_SIGNATURE.length);
  let pos = PNG_SIGNATURE.length;
  for (let index = 0; ; index++) {
    if (pos === b.length) throw new StripError("png: no IEND chunk");
    const header = pngChunkHeader(b.subarray(pos, pos + PNG_CHUNK_HEADER), pos);
    const dataEnd = pos + PNG_CHUNK_HEADER + header.length;
    need(b, pos, PNG_CHUNK_HEADER + header.length + PNG_CRC, header.what);
    checkPngCrc(crc32(b.subarray(pos + 4, dataEnd)), b.subarray(dataEnd), header, pos);
    checkPngOrder(header.type, index);
    const name = pngDropName(header.type);
    if (name) out.drop(name);
    else {
      out.keep(pos, dataEnd + PNG_CRC);
      out.note(pngKeptName(header.type));
    }
    pos = dataEnd + PNG_CRC;
    if (header.type === "IEND") {
      if (pos < b.length) out.drop(PNG_AFTER_END); // not part of the image; may hide anything
      return out.finish();
    }
  }
}


function stripJpeg(b: Uint8Array): StripResult {
  checkSoi(b);
  const out = new Rebuild(b);
  out.keep(0, 2);
  let pos = 2;
  const state = newJpegState();
  for (;;) {
    checkMarkerStart(b.subarray(pos, pos + 2), pos);
    while (b[pos + 1] === 0xff) pos += 1; // fill bytes before a marker (T.81 B.1.1.2) are dropped
    need(b, pos, 2, "jpeg: marker");
    const marker = b[pos + 1]!;
    if (marker === EOI) {
      checkEnd(state);
      out.keep(pos, pos + 2);
      // Bytes after EOI are not part of this image; phones append whole second JPEGs (MPF, motion
      // photos) there, each with its own Exif, so they are dropped rather than copied.
      if (pos + 2 < b.length) out.drop(JPEG_AFTER_END);
      return out.finish();
    }
    const { length, what } = segmentHeader(b.subarray(pos, pos + 4), pos);
    const end = pos + 2 + length;
    need(b, pos, 2 + length, what);
    const seg = b.subarray(pos, end);
    const name = segmentVerdict(state, seg);
    if (!name) {
      out.keep(pos, end);
      out.note(isKeptColour(seg) ? JPEG_ICC : null);
    } else {
      out.drop(name);
      const replacement = segmentReplacement(state, seg);
      if (replacement) {
        out.add(replacement.segment);
        out.note(replacement.kept);
      }
    }
    pos = end;
    if (marker === SOS) {
      const stop = scanDataEnd(b, pos, state.jpegLs);
      if (stop + 1 >= b.length) throw new StripError(JPEG_UNENDED_SCAN);
      out.keep(pos, stop); // entropy-coded data, copied unchanged: the pixels are not re-encoded
      pos = stop;
    }
  }
}


/** The offset just past a run of data sub-blocks (a size byte, that many bytes, ..., a zero size). */
function skipSubBlocks(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    need(b, pos, 1, "gif: data sub-block");
    const size = b[pos]!;
    pos += 1;
    if (size === 0) return pos;
    need(b, pos, size, "gif: data sub-block");
    pos += size;
  }
}

function stripGif(b: Uint8Array): StripResult {
  let pos = gifHeaderLength(b);
  need(b, 0, pos, "gif: global colour table");
  const out = new Rebuild(b);
  out.keep(0, pos);
  let images = 0;
  for (;;) {
    need(b, pos, 1, "gif: block");
    const block = gifBlock(b[pos]!, pos, images);
    if (block === "trailer") {
      out.keep(pos, pos + 1);
      if (pos + 1 < b.length) out.drop(GIF_AFTER_END); // outside the image; may hide anything
      return out.finish();
    }
    if (block === "image") {
      need(b, pos, IMAGE_DESCRIPTOR, "gif: image descriptor");
      const dataAt = pos + IMAGE_DESCRIPTOR + colourTableSize(b[pos + 9]!);
      need(b, dataAt, 1, "gif: lzw minimum code size");
      const end = skipSubBlocks(b, dataAt + 1);
      out.keep(pos, end); // descriptor, local colour table and LZW data: the pixels, copied unchanged
      images += 1;
      pos = end;
      continue;
    }
    need(b, pos, 2, "gif: extension label");
    const end = skipSubBlocks(b, pos + 2);
    const name = extensionDropName(b[pos + 1]!, b.subarray(pos + 2, end));
    if (name) out.drop(name);
    else out.keep(pos, end);
    if (!name && hasPrefix(b, pos + 2, "\x0bICCRGBG1012")) out.note(GIF_ICC);
    pos = end;
  }
}


function stripWebp(b: Uint8Array): StripResult {
  const end = riffEnd(b);
  need(b, 0, end, RIFF_PAYLOAD);
  // Reading from a view that ends at the RIFF size means no chunk can reach into the trailing bytes.
  const riff = b.subarray(0, end);
  const out = new Rebuild(b);
  out.keep(0, RIFF_HEADER); // placeholder: the size is rewritten below, once the kept chunks are known
  let pos = RIFF_HEADER;
  if (pos === end) throw new StripError("webp: no chunks");
  for (let first = true; pos < end; first = false) {
    const header = webpChunkHeader(riff.subarray(pos, pos + WEBP_CHUNK_HEADER), pos);
    const next = pos + WEBP_CHUNK_HEADER + header.padded;
    need(riff, pos, WEBP_CHUNK_HEADER + header.padded, header.what);
    checkWebpChunk(header, first);
    const name = webpDropName(header.fourcc);
    if (name) out.drop(name);
    else {
      out.keep(pos, pos + WEBP_CHUNK_HEADER);
      out.add(keptData(header.fourcc, b.subarray(pos + WEBP_CHUNK_HEADER, next), 0));
      out.note(header.fourcc === "ICCP" ? WEBP_ICC : null);
    }
    pos = next;
  }
  if (b.length > end) out.drop(WEBP_AFTER_END); // outside the container: no reader needs it
  const result = out.finish();
  // The result is never larger than the input, which is capped far below 4 GiB, so the size fits.
  result.bytes.set(withRiffSize(result.bytes, result.bytes.length));
  return result;
}


/** HEIF by offsets over the whole file: the same rules (planMeta, planFile), none of the stream's two passes or its header reading. */
function stripHeif(b: Uint8Array): StripResult {
  const removed: string[] = [];
  const kept: string[] = [];
  let meta: MetaPlan | null = null;
  const mdats: Range[] = [];
  const topZero: Range[] = [];
  let pos = 0;
  for (let count = 0; pos < b.length; count++) {
    const where = `heif: box at offset ${pos}`;
    if (b.length - pos < 8) throw new StripError(`${where}: truncated`);
    const size32 = new DataView(b.buffer, b.byteOffset).getUint32(pos);
    const type = latin(b, pos + 4, 4);
    let header = size32 === 1 ? 16 : 8;
    if (b.length - pos < header) throw new StripError(`${where}: truncated`);
    const size = size32 === 1 ? u64be(b, pos + 8, where) : size32 === 0 ? b.length - pos : size32;
    if (type === "uuid") header += 16;
    if (b.length - pos < header) throw new StripError(`${where}: truncated`);
    if (size < header) throw new StripError(`${where}: size ${size} is smaller than its header`);
    const box = { type, start: pos, body: pos + header, end: pos + size };
    const what = `heif: ${JSON.stringify(box.type)} box at offset ${pos}`;
    if (count >= MAX_TOP_BOXES) throw new StripError(`heif: more than ${MAX_TOP_BOXES} top-level boxes`);
    if (count === 0 && box.type !== "ftyp") throw new StripError("heif: the file does not start with an ftyp box");
    if (box.type === "ftyp" || box.type === "meta") {
      const max = box.type === "ftyp" ? MAX_FTYP : MAX_META;
      if (count > 0 && box.type === "ftyp") throw new StripError("heif: a second ftyp box");
      if (size32 === 0 || size > max) throw new StripError(`${what}: over the ${max}-byte limit`);
      if (box.end > b.length) throw new StripError(`${what}: truncated`);
      if (box.type === "ftyp") {
        const brands = [latin(b, 8, 4)];
        for (let at = 16; at + 4 <= box.end; at += 4) brands.push(latin(b, at, 4));
        if (!brands.some((x) => HEIF_BRANDS.includes(x))) throw new StripError("heif: ftyp names no HEIF or AVIF brand");
      } else {
        if (meta) throw new StripError("heif: a second meta box");
        meta = planMeta(b.subarray(box.start, box.end), box.start, removed, kept);
      }
    } else if (box.type === "moov") throw new StripError("heif: image sequences (a moov box) are not stripped");
    else if (box.end > b.length) throw new StripError(`${what}: truncated`);
    else if (box.type === "mdat") mdats.push([box.body, box.end]);
    else {
      topZero.push([box.body, box.end]);
      if (box.type !== "free" && box.type !== "skip") noteDropped(removed, `HEIF box ${box.type.replace(/[^\x21-\x7e]/g, "?")}`);
    }
    pos = box.end;
  }
  if (!meta) throw new StripError("heif: no meta box");
  const out = b.slice();
  const { zero, xmp } = planFile(meta, mdats, topZero, b.length);
  for (const [from, to] of zero) out.fill(0, from, to);
  for (const [from, to] of xmp) for (let p = from; p < to; p++) out[p] = xmpByte(p, from, to);
  return { bytes: out, removed, kept };
}

const latin = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
