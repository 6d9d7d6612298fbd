/** PNG: drops text, time and Exif chunks and any ancillary chunk not known to be safe, chunk by chunk as it streams; the rest stays byte-identical. */
import { crc32 } from "node:zlib";
import { ascii, hasPrefix, need, noteDropped, StripError, u32be } from "./bytes.ts";
import { type ImageFormat, type ReadAt, readOnce } from "./format.ts";
import type { ByteReader } from "./stream-reader.ts";

export const PNG_SIGNATURE = "\x89PNG\r\n\x1a\n";
/** A chunk is its length and type (this header), its data, then a CRC of the type and data. */
export const PNG_CHUNK_HEADER = 8;
export const PNG_CRC = 4;
export const PNG_AFTER_END = "PNG data after IEND";
/** PNG lengths are at most 2^31 − 1 (PNG spec 5.3). */
const MAX_CHUNK_LENGTH = 0x7fffffff;

/** Kept chunks that are colour metadata: named in the report of what was kept. */
const COLOUR = new Set(["iCCP", "sRGB", "gAMA", "cHRM", "cICP"]);

/** The name to report a kept chunk under, or null when it is the picture itself (not metadata). */
export function pngKeptName(type: string): string | null {
  return COLOUR.has(type) ? `PNG ${type}` : null;
}

/** Chunks that carry text, dates or camera data. */
const METADATA = new Set(["eXIf", "tEXt", "iTXt", "zTXt", "tIME"]);

/**
 * Ancillary chunks kept because they change how the pixels are shown (colour, transparency, gamma,
 * animation, layout) and hold no free text. Any other ancillary chunk is dropped: the spec lets a
 * decoder ignore unknown ancillary chunks (5.4), so dropping one never changes the picture, while
 * keeping it could leak a private chunk (C2PA caBX, Photoshop, vendor data) that we cannot inspect.
 */
const KEPT_ANCILLARY = new Set([
  "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP", "mDCV", "cLLI", "bKGD", "hIST", "pHYs",
  "sPLT", "acTL", "fcTL", "fdAT", "oFFs", "pCAL", "sCAL", "sTER", "gIFg",
]);

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

export interface PngChunkHeader {
  length: number;
  type: string;
  /** Names the whole chunk in a truncation error. */
  what: string;
}

/** Reads the chunk header starting at `pos` from `h`, its first 8 bytes (fewer at the end of the file). */
export function pngChunkHeader(h: Uint8Array, pos: number): PngChunkHeader {
  const length = u32be(h, 0, "png: chunk length");
  if (length > MAX_CHUNK_LENGTH) throw new StripError(`png: chunk length ${length} at offset ${pos} is over 2^31-1`);
  need(h, 4, 4, "png: chunk type");
  for (let i = 4; i < 8; i++) {
    if (!isLetter(h[i]!)) throw new StripError(`png: chunk type at offset ${pos} is not four letters`);
  }
  const type = ascii(h, 4, 4, "png: chunk type");
  return { length, type, what: `png: ${type} chunk at offset ${pos}` };
}

/** `computed` is CRC-32 (ISO 3309) over the type and data. A chunk whose CRC fails is damaged or crafted; refuse it rather than guess where the next one starts. */
export function checkPngCrc(computed: number, stored: Uint8Array, { type }: PngChunkHeader, pos: number): void {
  if (computed !== u32be(stored, 0, "png: crc")) throw new StripError(`png: ${type} chunk at offset ${pos} has a bad crc`);
}

/** Checked once a chunk's CRC holds: `index` counts the chunks from 0. */
export function checkPngOrder(type: string, index: number): void {
  if (index === 0 && type !== "IHDR") throw new StripError("png: first chunk is not IHDR");
}

/** The name to report for a chunk that must go, or null to keep it: critical chunks are never dropped, the image needs them. */
export function pngDropName(type: string): string | null {
  const critical = (type.charCodeAt(0) & 0x20) === 0; // upper-case first letter (PNG spec 5.4)
  return METADATA.has(type) || (!critical && !KEPT_ANCILLARY.has(type)) ? `PNG ${type}` : null;
}

/**
 * The walk: chunk by chunk, each chunk's data passed through as it arrives and its CRC checked on the
 * way. A chunk is kept or dropped on its type alone, so a kept chunk's bytes go out before its CRC is
 * checked; a bad CRC still ends the walk with a StripError, and the caller throws away everything it
 * was given.
 */
export async function* walkPng(r: ByteReader, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> {
  const signature = await r.read(PNG_SIGNATURE.length);
  if (!hasPrefix(signature, 0, PNG_SIGNATURE)) throw new StripError("png: bad signature");
  yield signature;
  for (let index = 0; ; index++) {
    const pos = r.offset;
    const head = await r.read(PNG_CHUNK_HEADER);
    if (head.length === 0) throw new StripError("png: no IEND chunk");
    const header = pngChunkHeader(head, pos);
    const name = pngDropName(header.type);
    if (!name) yield head;
    let crc = crc32(head.subarray(4));
    for await (const piece of r.pass(header.length, header.what)) {
      crc = crc32(piece, crc);
      if (!name) yield piece;
    }
    const stored = await r.readExact(PNG_CRC, header.what);
    checkPngCrc(crc, stored, header, pos);
    checkPngOrder(header.type, index);
    if (name) noteDropped(removed, name);
    else {
      yield stored;
      const keptName = pngKeptName(header.type);
      if (keptName) noteDropped(kept, keptName);
    }
    if (header.type === "IEND") {
      if (!(await r.atEnd())) noteDropped(removed, PNG_AFTER_END);
      return;
    }
  }
}

/**
 * walkPng's verdicts from the chunk headers alone (ImageFormat.plan): the same chunks kept and
 * dropped, so the same size and names, and the same errors for a bad signature, a bad or cut-off
 * header, a chunk running past the end, a first chunk that is not IHDR and a missing IEND. It
 * reads 8 bytes a chunk and skips the data; the CRCs are left to walkPng, which runs as the image
 * is sent.
 */
export async function planPng(readAt: ReadAt, fileSize: number, removed: string[], kept: string[]): Promise<number> {
  const signature = await readAt(0, PNG_SIGNATURE.length);
  if (!hasPrefix(signature, 0, PNG_SIGNATURE)) throw new StripError("png: bad signature");
  let size = PNG_SIGNATURE.length;
  let pos = PNG_SIGNATURE.length;
  for (let index = 0; ; index++) {
    const head = await readAt(pos, PNG_CHUNK_HEADER);
    if (head.length === 0) throw new StripError("png: no IEND chunk");
    const header = pngChunkHeader(head, pos);
    const total = PNG_CHUNK_HEADER + header.length + PNG_CRC;
    if (pos + total > fileSize) throw new StripError(`${header.what}: truncated`);
    checkPngOrder(header.type, index);
    const name = pngDropName(header.type);
    if (name) noteDropped(removed, name);
    else {
      size += total;
      const keptName = pngKeptName(header.type);
      if (keptName) noteDropped(kept, keptName);
    }
    pos += total;
    if (header.type === "IEND") {
      if (pos < fileSize) noteDropped(removed, PNG_AFTER_END);
      return size;
    }
  }
}

export const png: ImageFormat<"image/png"> = {
  type: "image/png",
  sniff: (head) => hasPrefix(head, 0, PNG_SIGNATURE),
  strip: readOnce(walkPng),
  plan: planPng,
};
