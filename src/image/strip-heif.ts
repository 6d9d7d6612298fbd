/** HEIC, HEIF and AVIF: overwrites Exif, XMP and every other byte no picture needs with zeros, in place, in two streamed passes. */
import { ascii, concat, hasPrefix, noteDropped, StripError, u32be } from "./bytes.ts";
import type { ImageFormat, Source } from "./format.ts";
import { u64be } from "./heif-boxes.ts";
import { type MetaPlan, planFile, planMeta, type Range, xmpByte } from "./heif-plan.ts";
import { type ByteReader, readWith } from "./stream-reader.ts";

/**
 * Why zeros in place, not a rewritten file: removing an item means rewriting iinf, iloc, iref and
 * ipma and moving every offset that iloc holds into mdat (and, with construction method 1, into
 * idat), for any combination of 32- and 64-bit fields; a mistake there shifts the picture's own data
 * and damages the image in ways a reader may not even report. Overwriting the payload of what must
 * go keeps every box, size and offset identical, so the structure the reader walks is the one the
 * camera wrote, and is checked here once. What is left is an Exif item of zeros (no tags: exiftool
 * reads nothing from it) and an XMP item holding an empty packet (EMPTY_XMP), the item entries that name them, and
 * properties of zeros that no item uses. The price: the file keeps its size, and an item's name
 * (infe item_name, followed by other strings in `mime` items, so it cannot be blanked in place)
 * stays; HEIF writers leave it empty or name the item's kind.
 */

/** Brands (ISO/IEC 23008-12 Annex B, the AV1 image format 8.3, MIAF) by the content type they give. */
const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);
const AVIF_BRANDS = new Set(["avif", "avis"]);
const GENERIC_BRANDS = new Set(["mif1", "msf1", "mif2", "miaf"]);
export const HEIF_BRANDS = [...HEIC_BRANDS, ...AVIF_BRANDS, ...GENERIC_BRANDS];
/** Caps on what is held or counted: the ftyp and meta boxes are read whole; the rest streams. */
export const MAX_FTYP = 4096;
export const MAX_META = 1024 * 1024;
export const MAX_TOP_BOXES = 4096;

export type HeifType = "image/heic" | "image/heif" | "image/avif";

/**
 * The content type of a file whose first bytes are `head` (ENVELOPE.md V10): an ftyp box first, its
 * major brand HEIC or AVIF; a generic major brand (mif1, msf1, mif2, miaf) is judged by the
 * compatible brands within `head`: AVIF, then HEIC, else image/heif.
 */
export function heifType(head: Uint8Array): HeifType | null {
  if (!hasPrefix(head, 4, "ftyp") || head.length < 12) return null;
  const size = u32be(head, 0, "heif: ftyp");
  if (size < 16) return null;
  const major = ascii(head, 8, 4, "heif: ftyp");
  if (HEIC_BRANDS.has(major)) return "image/heic";
  if (AVIF_BRANDS.has(major)) return "image/avif";
  if (!GENERIC_BRANDS.has(major)) return null;
  const compatible: string[] = [];
  for (let at = 16; at + 4 <= Math.min(size, head.length); at += 4) compatible.push(ascii(head, at, 4, "heif: ftyp"));
  if (compatible.some((b) => AVIF_BRANDS.has(b))) return "image/avif";
  return compatible.some((b) => HEIC_BRANDS.has(b)) ? "image/heic" : "image/heif";
}

/** What one walk learns: the meta box's plan, where the mdat payloads are, what else to zero. */
interface Walked {
  removed: string[];
  kept: string[];
  meta: MetaPlan | null;
  mdats: Range[];
  topZero: Range[];
}
const newWalked = (): Walked => ({ removed: [], kept: [], meta: null, mdats: [], topZero: [] });

/** A top-level box header read from the stream: its bytes, type, and payload length (null: to the end of the file). */
async function topHeader(r: ByteReader): Promise<{ head: Uint8Array; type: string; length: number | null } | null> {
  const pos = r.offset;
  const first = await r.read(8);
  if (first.length === 0) return null;
  const what = `heif: box at offset ${pos}`;
  if (first.length < 8) throw new StripError(`${what}: truncated`);
  const type = ascii(first, 4, 4, what);
  let head = first;
  let size: number | null = u32be(first, 0, what);
  if (size === 1) {
    head = concat([first, await r.readExact(8, what)]);
    size = u64be(head, 8, what);
  } else if (size === 0) size = null;
  if (type === "uuid") head = concat([head, await r.readExact(16, what)]);
  if (size !== null && size < head.length) throw new StripError(`${what}: size ${size} is smaller than its header`);
  return { head, type, length: size === null ? null : size - head.length };
}

/** Passes `length` bytes through (null: to the end of the input). */
async function* payload(r: ByteReader, length: number | null, what: string): AsyncGenerator<Uint8Array> {
  if (length !== null) return yield* r.pass(length, what);
  for (let view = await r.peek(); view; view = await r.peek()) {
    r.consume(view.length);
    yield view;
  }
}

/**
 * The walk over the top-level boxes: every byte of the file comes out unchanged, in order, and `w`
 * learns what to zero. ftyp must come first; exactly one meta; `moov` (an image sequence's tracks,
 * which carry their own metadata) is refused; free/skip and unknown boxes are zeroed.
 */
async function* walkHeif(r: ByteReader, w: Walked): AsyncGenerator<Uint8Array> {
  for (let count = 0; ; count++) {
    const pos = r.offset;
    const header = await topHeader(r);
    if (!header) break;
    const { head, type, length } = header;
    const what = `heif: ${JSON.stringify(type)} box at offset ${pos}`;
    if (count >= MAX_TOP_BOXES) throw new StripError(`heif: more than ${MAX_TOP_BOXES} top-level boxes`);
    if (count === 0 && type !== "ftyp") throw new StripError("heif: the file does not start with an ftyp box");
    const body = pos + head.length;
    if (type === "ftyp" || type === "meta") {
      const max = type === "ftyp" ? MAX_FTYP : MAX_META;
      if (count > 0 && type === "ftyp") throw new StripError("heif: a second ftyp box");
      if (length === null || length > max - head.length) throw new StripError(`${what}: over the ${max}-byte limit`);
      const box = concat([head, await r.readExact(length, what)]);
      if (type === "ftyp") checkBrands(box);
      else {
        if (w.meta) throw new StripError("heif: a second meta box");
        w.meta = planMeta(box, pos, w.removed, w.kept);
      }
      yield box;
      continue;
    }
    if (type === "moov") throw new StripError("heif: image sequences (a moov box) are not stripped");
    const end = length === null ? Number.POSITIVE_INFINITY : body + length;
    if (type === "mdat") w.mdats.push([body, end]);
    else {
      w.topZero.push([body, end]);
      if (type !== "free" && type !== "skip") noteDropped(w.removed, `HEIF box ${type.replace(/[^\x21-\x7e]/g, "?")}`);
    }
    yield head;
    yield* payload(r, length, what);
  }
  if (!w.meta) throw new StripError("heif: no meta box");
}

function checkBrands(ftyp: Uint8Array): void {
  const brands = [ascii(ftyp, 8, 4, "heif: ftyp")];
  for (let at = 16; at + 4 <= ftyp.length; at += 4) brands.push(ascii(ftyp, at, 4, "heif: ftyp"));
  if (!brands.some((b) => HEIF_BRANDS.includes(b))) throw new StripError("heif: ftyp names no HEIF or AVIF brand");
}

/** The whole file's zero list from one walk that reached the end of a file of `size` bytes. */
function finish(w: Walked, size: number): { zero: Range[]; xmp: Range[] } {
  const fix = ([a, b]: Range): Range => [a, Math.min(b, size)];
  return planFile(w.meta!, w.mdats.map(fix), w.topZero.map(fix), size);
}

/**
 * `piece`, at file offset `at`, with the bytes in `zero` (sorted, from index `from`) overwritten with
 * zeros and those in `xmp` with an empty XMP packet and spaces (xmpByte); a copy only where it must change.
 */
export function zeroed(piece: Uint8Array, at: number, zero: Range[], from: number, xmp: Range[] = []): Uint8Array {
  const end = at + piece.length;
  let copy: Uint8Array | null = null;
  for (let i = from; i < zero.length && zero[i]![0] < end; i++) {
    const [a, b] = zero[i]!;
    if (b <= at) continue;
    copy ??= piece.slice();
    copy.fill(0, Math.max(a, at) - at, Math.min(b, end) - at);
  }
  for (const [a, b] of xmp) {
    if (b <= at || a >= end) continue;
    copy ??= piece.slice();
    for (let p = Math.max(a, at); p < Math.min(b, end); p++) copy[p - at] = xmpByte(p, a, b);
  }
  return copy ?? piece;
}

/**
 * The zero list depends on the meta box, which may come after the mdat it points into, so the
 * source is read twice (as for WebP): the first pass walks and plans, the second walks again,
 * writing the bytes with the planned ranges zeroed, and must plan the same, or it throws rather
 * than write what the first pass did not judge.
 */
export async function* streamHeif(source: Source, removed: string[], kept: string[]): AsyncGenerator<Uint8Array> {
  const first = newWalked();
  let size = 0;
  for await (const piece of readWith(source(), (r) => walkHeif(r, first))) size += piece.length;
  const plan = finish(first, size);
  const { zero, xmp } = plan;
  for (const name of first.removed) noteDropped(removed, name);
  for (const name of first.kept) noteDropped(kept, name);
  const second = newWalked();
  let at = 0;
  let index = 0;
  for await (const piece of readWith(source(), (r) => walkHeif(r, second))) {
    while (index < zero.length && zero[index]![1] <= at) index++;
    yield zeroed(piece, at, zero, index, xmp);
    at += piece.length;
  }
  if (at !== size || JSON.stringify(finish(second, at)) !== JSON.stringify(plan) || second.removed.join("\n") !== first.removed.join("\n")) {
    throw new StripError("heif: the image changed between the two passes over it");
  }
}

const heifFormat = <T extends HeifType>(type: T): ImageFormat<T> => ({ type, sniff: (head) => heifType(head) === type, strip: streamHeif });
export const heic = heifFormat("image/heic");
export const heif = heifFormat("image/heif");
export const avif = heifFormat("image/avif");
