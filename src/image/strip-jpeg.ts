/** JPEG: keeps the segments a decoder needs and drops Exif (all but its orientation), XMP, IPTC, comments and the other APPn blocks; scans pass through as they stream. */
import { concat, hasPrefix, need, noteDropped, StripError, u16be } from "./bytes.ts";
import { exifReplacement } from "./jpeg-orientation.ts";
import { type ImageFormat, readOnce } from "./format.ts";
import type { ByteReader } from "./stream-reader.ts";

const SOI = 0xd8;
export const EOI = 0xd9;
export const SOS = 0xda;
const COM = 0xfe;
const APP0 = 0xe0;
const APP15 = 0xef;
/** SOF55 starts a JPEG-LS frame, whose scans stuff bits, not bytes, after 0xFF (ITU-T T.87 A.1). */
const SOF55 = 0xf7;
export const JPEG_AFTER_END = "JPEG data after end of image";
export const JPEG_UNENDED_SCAN = "jpeg: scan data runs to the end of the file with no end marker";

/** Is the marker a start-of-frame? DHT (C4), JPG (C8) and DAC (CC) share the range but are not. */
export function isFrameMarker(m: number): boolean {
  return (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === SOF55;
}

/**
 * What to call a segment that must go, or null to keep it. APPn blocks are dropped unless they are on
 * this short list: JFIF (APP0), an ICC colour profile (APP2) and Adobe's colour-transform flag (APP14)
 * change how the pixels are shown and hold no place, date or device. Every other APPn is dropped,
 * known or not, because APPn data is never needed to decode the scans (ITU-T T.81 B.2.4.6): so an
 * unknown vendor block (MPF, Ducky, JUMBF…) cannot smuggle a location through.
 */
function dropName(marker: number, seg: Uint8Array): string | null {
  const at = 4; // the identifier follows the marker and the two length bytes
  if (marker === COM) return "JPEG COM";
  if (marker < APP0 || marker > APP15) return null;
  const n = marker - APP0;
  switch (n) {
    case 0:
      if (hasPrefix(seg, at, "JFIF\0")) return null;
      return hasPrefix(seg, at, "JFXX\0") ? "JPEG APP0 JFXX thumbnail" : "JPEG APP0";
    case 1:
      if (hasPrefix(seg, at, "Exif\0")) return "JPEG APP1 Exif";
      if (hasPrefix(seg, at, "http://ns.adobe.com/xap/1.0/\0")) return "JPEG APP1 XMP";
      if (hasPrefix(seg, at, "http://ns.adobe.com/xmp/extension/\0")) return "JPEG APP1 XMP extension";
      return "JPEG APP1";
    case 2:
      if (hasPrefix(seg, at, "ICC_PROFILE\0")) return null;
      return hasPrefix(seg, at, "MPF\0") ? "JPEG APP2 MPF" : "JPEG APP2";
    case 13:
      return hasPrefix(seg, at, "Photoshop 3.0\0") ? "JPEG APP13 Photoshop/IPTC" : "JPEG APP13";
    case 14:
      return hasPrefix(seg, at, "Adobe") ? null : "JPEG APP14";
    default:
      return `JPEG APP${n}`;
  }
}

export const JPEG_ICC = "JPEG APP2 ICC colour profile";

/** Whether a kept segment is one to name as kept: the colour profile (the others are the picture itself). */
export function isKeptColour(seg: Uint8Array): boolean {
  return seg[1] === APP0 + 2 && hasPrefix(seg, 4, "ICC_PROFILE\0");
}

/**
 * Inside a scan a 0xFF data byte is always followed by a stuffed 0x00 (or, in JPEG-LS, by a byte below
 * 0x80), RST0–7 sit between intervals and 0xFF may repeat as fill; after 0xFF any other byte starts the
 * next marker (T.81 B.1.1.5).
 */
export function isScanData(next: number, jpegLs: boolean): boolean {
  return next === 0x00 || next === 0xff || (next >= 0xd0 && next <= 0xd7) || (jpegLs && next < 0x80);
}

export function checkSoi(b: Uint8Array): void {
  if (b.length < 2 || b[0] !== 0xff || b[1] !== SOI) throw new StripError("jpeg: no start-of-image marker");
}

/** Checks that `m` (the bytes at `pos`, two unless the file ends) opens a marker. */
export function checkMarkerStart(m: Uint8Array, pos: number): void {
  need(m, 0, 2, "jpeg: marker");
  if (m[0] !== 0xff) throw new StripError(`jpeg: expected a marker at offset ${pos}`);
}

/** What the walk has seen so far: the checks that span segments. */
export interface JpegState {
  frame: boolean;
  jpegLs: boolean;
  scans: number;
  /** An Exif APP1 has been seen: only the first one can give the orientation (Exif 2.32 4.5.4: one APP1 Exif per file). */
  exif: boolean;
}

export const newJpegState = (): JpegState => ({ frame: false, jpegLs: false, scans: 0, exif: false });

export function checkEnd(state: JpegState): void {
  if (state.scans === 0) throw new StripError("jpeg: end of image before any scan");
}

/** The segment's length field from `h`, its marker and length bytes at `pos` (fewer at the end of the file). */
export function segmentHeader(h: Uint8Array, pos: number): { length: number; what: string } {
  const marker = h[1]!;
  if (marker === SOI || marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
    throw new StripError(`jpeg: unexpected marker 0xff${marker.toString(16)} at offset ${pos}`);
  }
  const length = u16be(h, 2, "jpeg: segment length");
  if (length < 2) throw new StripError(`jpeg: segment length ${length} at offset ${pos} is below the minimum of 2`);
  return { length, what: `jpeg: segment 0xff${marker.toString(16)} at offset ${pos}` };
}

/**
 * What goes out in place of a dropped segment: for the file's first Exif APP1 whose orientation is
 * not the default, a new APP1 holding only that orientation (jpeg-orientation.ts), and what to report
 * as kept; otherwise nothing. Keeping the orientation keeps a portrait photo upright; nothing else of
 * the original Exif survives, so its location, device, dates and thumbnail go.
 */
export function segmentReplacement(state: JpegState, seg: Uint8Array): { segment: Uint8Array; kept: string } | null {
  if (seg[1] !== APP0 + 1 || !hasPrefix(seg, 4, "Exif\0") || state.exif) return null;
  state.exif = true;
  return exifReplacement(seg);
}

/** Decides a whole segment (marker to end): the name to report if it must go, or null to keep it. */
export function segmentVerdict(state: JpegState, seg: Uint8Array): string | null {
  const marker = seg[1]!;
  const name = dropName(marker, seg);
  if (isFrameMarker(marker)) {
    state.frame = true;
    state.jpegLs = marker === SOF55;
  }
  if (marker === SOS) {
    if (!state.frame) throw new StripError("jpeg: scan before any frame header");
    state.scans += 1;
  }
  return name;
}

/**
 * Where the entropy-coded data in `b` from `from` stops: the offset of the 0xFF that starts the next
 * marker, b.length − 1 when `b` ends on a 0xFF whose meaning the next byte would tell, or b.length.
 */
export function scanDataEnd(b: Uint8Array, from: number, jpegLs: boolean): number {
  for (let i = b.indexOf(0xff, from); i >= 0; i = b.indexOf(0xff, i + 1)) {
    if (i + 1 === b.length || !isScanData(b[i + 1]!, jpegLs)) return i;
  }
  return b.length;
}

/** The walk: marker segments (at most 64 KiB each) read whole, entropy-coded scans passed through; it holds at most one segment. */
export async function* walkJpeg(r: ByteReader, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> {
  const soi = await r.read(2);
  checkSoi(soi);
  yield soi;
  const state = newJpegState();
  for (;;) {
    let pos = r.offset;
    let m = await r.read(2);
    checkMarkerStart(m, pos);
    if (m[1] === 0xff) {
      // Fill bytes before a marker (T.81 B.1.1.2) are dropped: the marker is the byte after the last 0xFF.
      pos += 1 + (await skipFill(r));
      m = concat([Uint8Array.of(0xff), await r.read(1)]);
    }
    need(m, 0, 2, "jpeg: marker");
    if (m[1] === EOI) {
      checkEnd(state);
      yield m;
      if (!(await r.atEnd())) noteDropped(removed, JPEG_AFTER_END);
      return;
    }
    const head = concat([m, await r.read(2)]);
    const { length, what } = segmentHeader(head, pos);
    const seg = concat([head, await r.readExact(length - 2, what)]);
    const name = segmentVerdict(state, seg);
    if (!name) {
      yield seg;
      if (isKeptColour(seg)) noteDropped(kept, JPEG_ICC);
    } else {
      noteDropped(removed, name);
      const replacement = segmentReplacement(state, seg);
      if (replacement) {
        yield replacement.segment;
        noteDropped(kept, replacement.kept);
      }
    }
    if (m[1] === SOS) yield* scan(r, state.jpegLs);
  }
}

/** Consumes a run of 0xFF bytes and says how long it was. */
async function skipFill(r: ByteReader): Promise<number> {
  let run = 0;
  for (let view = await r.peek(); view; view = await r.peek()) {
    let n = 0;
    while (n < view.length && view[n] === 0xff) n += 1;
    r.consume(n);
    run += n;
    if (n < view.length) break;
  }
  return run;
}

/**
 * Passes entropy-coded data through up to the marker that ends it, leaving the reader on that marker.
 * A 0xFF that ends a source chunk is held back until the next chunk's first byte tells what it is.
 */
async function* scan(r: ByteReader, jpegLs: boolean): AsyncGenerator<Uint8Array> {
  let heldFF = false;
  for (;;) {
    const view = await r.peek();
    if (!view) throw new StripError(JPEG_UNENDED_SCAN);
    if (heldFF) {
      if (!isScanData(view[0]!, jpegLs)) {
        r.unread(Uint8Array.of(0xff));
        return;
      }
      heldFF = false;
      yield Uint8Array.of(0xff);
    }
    const end = scanDataEnd(view, 0, jpegLs);
    const marker = end < view.length - 1;
    heldFF = end === view.length - 1;
    r.consume(heldFF ? end + 1 : end);
    if (end > 0) yield view.subarray(0, end);
    if (marker) return;
  }
}

export const jpeg: ImageFormat<"image/jpeg"> = {
  type: "image/jpeg",
  sniff: (head) => hasPrefix(head, 0, "\xff\xd8\xff"), // SOI, then the 0xFF of the next marker
  strip: readOnce(walkJpeg),
};
