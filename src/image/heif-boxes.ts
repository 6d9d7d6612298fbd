/** HEIF/AVIF (ISO-BMFF) boxes read from a bounded buffer: box headers, and the item and property tables of a `meta` box. */
import { ascii, need, StripError, u16be, u32be } from "./bytes.ts";

/** One box inside a buffer; offsets are the buffer's. `body` is where the payload starts (after size, type, largesize, usertype). */
export interface Box {
  type: string;
  start: number;
  body: number;
  end: number;
}

/** A 64-bit big-endian value; refused when it is 2^53 or more (no file is that large, and Number stays exact). */
export function u64be(b: Uint8Array, at: number, what: string): number {
  const high = u32be(b, at, what);
  if (high >= 0x200000) throw new StripError(`${what}: 64-bit value too large`);
  return high * 0x100000000 + u32be(b, at + 4, what);
}

/**
 * The box at `at` in `b`, which must end by `end`. Size 0 means "to `end`" (ISO/IEC 14496-12 4.2),
 * size 1 means a 64-bit size follows; a size smaller than its own header, or one that runs past
 * `end`, is refused: a box's size is never trusted beyond its container.
 */
export function boxAt(b: Uint8Array, at: number, end: number, where: string): Box {
  const what = `heif: box at offset ${at} in ${where}`;
  if (end - at < 8) throw new StripError(`${what}: truncated`);
  const size32 = u32be(b, at, what);
  const type = ascii(b, at + 4, 4, what);
  let header = 8;
  let size = size32;
  if (size32 === 1) {
    if (end - at < 16) throw new StripError(`${what}: truncated`);
    size = u64be(b, at + 8, what);
    header = 16;
  } else if (size32 === 0) size = end - at;
  if (type === "uuid") header += 16;
  if (size < header) throw new StripError(`${what}: size ${size} is smaller than its header`);
  if (size > end - at) throw new StripError(`${what}: size ${size} runs past the end of its container`);
  return { type, start: at, body: at + header, end: at + size };
}

/** The boxes that tile `b` from `from` to `end` exactly. */
export function childBoxes(b: Uint8Array, from: number, end: number, where: string): Box[] {
  const out: Box[] = [];
  for (let at = from; at < end; ) {
    const box = boxAt(b, at, end, where);
    out.push(box);
    at = box.end;
  }
  return out;
}

/** A full box's version (its flags follow in three bytes). */
export function fullBoxVersion(b: Uint8Array, box: Box): number {
  need(b, box.body, 4, `heif: ${box.type} box`);
  if (box.body + 4 > box.end) throw new StripError(`heif: ${box.type} box: truncated`);
  return b[box.body]!;
}

/** A NUL-terminated string starting at `at` that must end before `end`; the string and the offset after its NUL. */
export function cString(b: Uint8Array, at: number, end: number, what: string): [string, number] {
  const nul = b.subarray(0, end).indexOf(0, at);
  if (at > end || nul < 0) throw new StripError(`${what}: string not terminated`);
  return [String.fromCharCode(...b.subarray(at, Math.min(nul, at + 256))), nul + 1]; // a report names at most 256 characters
}

export interface ItemInfo {
  id: number;
  type: string;
  /** The MIME type of a `mime` item, "" otherwise. */
  contentType: string;
  /** Where the item type's four bytes are in the buffer. */
  typeAt: number;
}

/** The items of an `iinf` box (ISO/IEC 14496-12 8.11.6); only `infe` version 2 and 3 (those HEIF allows) are read. */
export function readItemInfos(b: Uint8Array, iinf: Box): ItemInfo[] {
  const version = fullBoxVersion(b, iinf);
  const countAt = iinf.body + 4;
  const count = version === 0 ? u16be(b, countAt, "heif: iinf") : u32be(b, countAt, "heif: iinf");
  const boxes = childBoxes(b, countAt + (version === 0 ? 2 : 4), iinf.end, "iinf");
  if (boxes.length !== count) throw new StripError(`heif: iinf says ${count} items but holds ${boxes.length}`);
  return boxes.map((infe) => {
    if (infe.type !== "infe") throw new StripError(`heif: iinf holds a ${JSON.stringify(infe.type)} box`);
    const v = fullBoxVersion(b, infe);
    if (v < 2 || v > 3) throw new StripError(`heif: infe version ${v} is not supported (HEIF needs 2 or 3)`);
    const what = `heif: infe box at offset ${infe.start}`;
    let at = infe.body + 4;
    if (infe.end - at < (v === 2 ? 8 : 10)) throw new StripError(`${what}: truncated`);
    const id = v === 2 ? u16be(b, at, what) : u32be(b, at, what);
    at += (v === 2 ? 2 : 4) + 2; // the item id, then protection_index
    const type = ascii(b, at, 4, what);
    let [, next] = cString(b, at + 4, infe.end, what); // item_name: kept as it is, see strip-heif.ts
    let contentType = "";
    if (type === "mime") [contentType, next] = cString(b, next, infe.end, what);
    return { id, type, contentType, typeAt: at };
  });
}

export interface Extent {
  offset: number;
  length: number;
}

export interface ItemLocation {
  id: number;
  /** 0: file offsets, 1: offsets in the `idat` box, 2: offsets into other items (ISO/IEC 14496-12 8.11.3). */
  method: number;
  dataReference: number;
  extents: Extent[];
}

/** The item locations of an `iloc` box, each count checked against the bytes left before anything is read for it. */
export function readItemLocations(b: Uint8Array, iloc: Box): ItemLocation[] {
  const version = fullBoxVersion(b, iloc);
  if (version > 2) throw new StripError(`heif: iloc version ${version} is not supported`);
  const what = `heif: iloc box at offset ${iloc.start}`;
  let at = iloc.body + 4;
  need(b, at, 2, what);
  const [offsetSize, lengthSize, baseSize] = [b[at]! >> 4, b[at]! & 15, b[at + 1]! >> 4];
  const indexSize = version === 0 ? 0 : b[at + 1]! & 15;
  for (const n of [offsetSize, lengthSize, baseSize, indexSize]) {
    if (n !== 0 && n !== 4 && n !== 8) throw new StripError(`${what}: field size ${n} is not 0, 4 or 8`);
  }
  at += 2;
  const idSize = version < 2 ? 2 : 4;
  const read = (size: number) => {
    if (at + size > iloc.end) throw new StripError(`${what}: truncated`);
    const value = size === 0 ? 0 : size === 2 ? u16be(b, at, what) : size === 4 ? u32be(b, at, what) : u64be(b, at, what);
    at += size;
    return value;
  };
  const count = read(idSize);
  const itemSize = idSize + (version === 0 ? 0 : 2) + 2 + baseSize + 2;
  if (count * itemSize > iloc.end - at) throw new StripError(`${what}: ${count} items cannot fit in ${iloc.end - at} bytes`);
  const items: ItemLocation[] = [];
  for (let i = 0; i < count; i++) {
    const id = read(idSize);
    const method = version === 0 ? 0 : read(2) & 15;
    const dataReference = read(2);
    const base = read(baseSize);
    const extentCount = read(2);
    const extentSize = indexSize + offsetSize + lengthSize;
    if (extentCount * extentSize > iloc.end - at) throw new StripError(`${what}: item ${id} has ${extentCount} extents that cannot fit`);
    const extents: Extent[] = [];
    for (let e = 0; e < extentCount; e++) {
      read(indexSize);
      const offset = base + read(offsetSize);
      if (offset > Number.MAX_SAFE_INTEGER / 2) throw new StripError(`${what}: item ${id} offset too large`);
      extents.push({ offset, length: read(lengthSize) });
    }
    items.push({ id, method, dataReference, extents });
  }
  return items;
}

/** One association of an `ipma` box: the item, the 1-based property index (0: none) and where its bytes are. */
export interface Association {
  item: number;
  property: number;
  at: number;
  size: 1 | 2;
}

/** The associations of an `ipma` box (ISO/IEC 23008-12 9.3.2). */
export function readAssociations(b: Uint8Array, ipma: Box): Association[] {
  const version = fullBoxVersion(b, ipma);
  const wide = (b[ipma.body + 3]! & 1) === 1;
  const what = `heif: ipma box at offset ${ipma.start}`;
  let at = ipma.body + 4;
  if (at + 4 > ipma.end) throw new StripError(`${what}: truncated`);
  const count = u32be(b, at, what);
  at += 4;
  const idSize = version < 1 ? 2 : 4;
  if (count * (idSize + 1) > ipma.end - at) throw new StripError(`${what}: ${count} entries cannot fit in ${ipma.end - at} bytes`);
  const out: Association[] = [];
  for (let i = 0; i < count; i++) {
    if (at + idSize + 1 > ipma.end) throw new StripError(`${what}: truncated`);
    const item = idSize === 2 ? u16be(b, at, what) : u32be(b, at, what);
    const n = b[at + idSize]!;
    at += idSize + 1;
    const size = wide ? 2 : 1;
    if (at + n * size > ipma.end) throw new StripError(`${what}: truncated`);
    for (let j = 0; j < n; j++, at += size) {
      out.push({ item, property: wide ? u16be(b, at, what) & 0x7fff : b[at]! & 0x7f, at, size });
    }
  }
  return out;
}

/** One item reference of an `iref` box (ISO/IEC 14496-12 8.11.12): its type (thmb, dimg, cdsc, …), from one item to others. */
export interface ItemReference {
  type: string;
  from: number;
  to: number[];
}

export function readReferences(b: Uint8Array, iref: Box): ItemReference[] {
  const idSize = fullBoxVersion(b, iref) === 0 ? 2 : 4;
  const id = (at: number, what: string) => (idSize === 2 ? u16be(b, at, what) : u32be(b, at, what));
  return childBoxes(b, iref.body + 4, iref.end, "iref").map((ref) => {
    const what = `heif: ${JSON.stringify(ref.type)} reference at offset ${ref.start}`;
    if (ref.end - ref.body < idSize + 2) throw new StripError(`${what}: truncated`);
    const count = u16be(b, ref.body + idSize, what);
    if (ref.body + idSize + 2 + count * idSize > ref.end) throw new StripError(`${what}: truncated`);
    return { type: ref.type, from: id(ref.body, what), to: Array.from({ length: count }, (_, i) => id(ref.body + idSize + 2 + i * idSize, what)) };
  });
}

/** The primary item of a `pitm` box. */
export function readPrimary(b: Uint8Array, pitm: Box): number {
  const what = `heif: pitm box at offset ${pitm.start}`;
  const wide = fullBoxVersion(b, pitm) !== 0;
  if (pitm.end - pitm.body < (wide ? 8 : 6)) throw new StripError(`${what}: truncated`);
  return wide ? u32be(b, pitm.body + 4, what) : u16be(b, pitm.body + 4, what);
}
