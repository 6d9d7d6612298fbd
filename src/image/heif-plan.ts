/** HEIF/AVIF: decides, from the `meta` box, which byte ranges of the file are overwritten with zeros and what is reported kept and removed. */
import { noteDropped, StripError } from "./bytes.ts";
import { type Box, boxAt, childBoxes, fullBoxVersion, type ItemInfo, readAssociations, readItemInfos, readItemLocations, readPrimary, readReferences } from "./heif-boxes.ts";
import { thumbnailItems } from "./heif-thumbnails.ts";

/** [start, end) in file offsets. */
export type Range = [number, number];

/**
 * Items whose data is kept: coded pictures and the derivations that build the picture from them
 * (grid, overlay, identity, tone map). Every other item (Exif, XMP and other `mime` items, `uri `
 * items, anything unknown) has its data zeroed: a reader needs none of them to show the picture.
 */
const KEPT_ITEMS = new Set(["hvc1", "hvt1", "lhv1", "av01", "avc1", "vvc1", "vvi1", "jpeg", "j2k1", "unci", "grid", "iovl", "iden", "tmap", "mski"]);

/**
 * Properties kept byte-identical: decoder configurations, sizes, the colour (colr) and the
 * transformations that change how the picture is shown (irot, imir, clap, pasp), auxiliary-image and
 * layer descriptions and HDR information. Any other property (user descriptions `udes`, creation and
 * modification times `crtt`/`mdft`, text `altt`, unknown) has its payload zeroed and every association
 * to it in `ipma` set to index 0, which ISO/IEC 23008-12 9.3.2 defines as "no property".
 */
const KEPT_PROPERTIES = new Set([
  "hvcC", "lhvC", "av1C", "avcC", "vvcC", "jpgC", "j2kH", "uncC", "cmpd", "ispe", "pixi", "colr", "irot", "imir", "clap",
  "pasp", "auxC", "rloc", "lsel", "a1op", "a1lx", "clli", "mdcv", "cclv", "amve", "reve", "oinf", "tols", "iscl", "ccst",
  "cmin", "cmex",
]);

/** Children of `meta` kept as they are, besides those read here (hdlr, pitm, iloc, iinf, iref, iprp, idat). */
const KEPT_META_BOXES = new Set(["dinf", "grpl"]);

/** What the `meta` box asks of the rest of the file; every offset is the file's. */
export interface MetaPlan {
  /** Ranges inside `meta` to zero. */
  zero: Range[];
  /** Extents (in mdat) of the items kept; the rest of every mdat is zeroed. A length-0 extent runs to the end of the file (end = Infinity). */
  kept: Range[];
  /** Extents of the items dropped, with their names: each must lie inside an mdat and share no byte with a kept item. */
  dropped: { range: Range; what: string }[];
  /** Extents of XMP items (file offsets), written as an empty XMP packet padded with spaces (EMPTY_XMP) rather than zeros. */
  xmp: Range[];
}

/**
 * An XMP item of zeros (or of spaces) is "Invalid XMP" to exiftool; an empty packet is valid and
 * says nothing. It is written at the start of the item's first extent when it fits, the rest of that
 * extent becoming spaces (XML allows them after the root element); a shorter extent becomes spaces,
 * and further extents (rare) zeros.
 */
export const EMPTY_XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>';

/** The byte that goes at file offset `p` of an XMP extent starting at `start` (packet first, then spaces). */
export function xmpByte(p: number, start: number, end: number): number {
  return end - start >= EMPTY_XMP.length && p - start < EMPTY_XMP.length ? EMPTY_XMP.charCodeAt(p - start) : 0x20;
}

const XMP = "HEIF XMP item";

function itemDropName(info: ItemInfo | undefined, id: number): string | null {
  if (!info) return `HEIF item ${id} without item info`;
  if (KEPT_ITEMS.has(info.type)) return null;
  if (info.type === "Exif") return "HEIF Exif item";
  if (info.type === "mime") return /^application\/rdf\+xml\b/i.test(info.contentType) ? XMP : `HEIF mime item ${printable(info.contentType)}`;
  if (info.type === "uri ") return "HEIF uri item";
  return `HEIF item type ${printable(info.type)}`;
}

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "?").trim() || "(unnamed)";

/** The kept name of a colour or transformation property, from its payload. */
function propertyKeptName(meta: Uint8Array, p: Box): string | null {
  const payload = meta.subarray(p.body, p.end);
  if (p.type === "colr") {
    if (payload.length < 4) throw new StripError(`heif: colr property at offset ${p.start}: truncated`);
    const kind = String.fromCharCode(...payload.subarray(0, 4));
    return kind === "nclx" ? "HEIF colr nclx colour" : `HEIF colr ICC colour profile (${printable(kind)})`;
  }
  if (p.type === "irot" || p.type === "imir") {
    if (payload.length < 1) throw new StripError(`heif: ${p.type} property at offset ${p.start}: truncated`);
    if (p.type === "irot") return `HEIF irot (rotate ${(payload[0]! & 3) * 90} anti-clockwise)`;
    return `HEIF imir (mirror about the ${payload[0]! & 1 ? "horizontal" : "vertical"} axis)`;
  }
  return null;
}

/**
 * Reads `meta` (the whole box, at file offset `offset`) and says what to zero. Refused: a handler
 * other than `pict`, a missing or repeated iloc/iinf/iprp, items whose data lives in another file,
 * associations to properties that do not exist, dropped items outside idat. Only this fixed nesting
 * is entered (meta → iinf → infe, meta → iprp → ipco → property): there is no recursion to exhaust.
 */
export function planMeta(meta: Uint8Array, offset: number, removed: string[], kept: string[]): MetaPlan {
  const box = boxAt(meta, 0, meta.length, "the file");
  fullBoxVersion(meta, box);
  const plan: MetaPlan = { zero: [], kept: [], dropped: [], xmp: [] };
  const zero = (from: number, to: number) => to > from && plan.zero.push([offset + from, offset + to]);
  const one: Record<string, Box> = {};
  for (const child of childBoxes(meta, box.body + 4, box.end, "meta")) {
    if (["hdlr", "iloc", "iinf", "iprp", "idat", "pitm", "iref"].includes(child.type)) {
      if (one[child.type]) throw new StripError(`heif: meta holds two ${child.type} boxes`);
      one[child.type] = child;
    } else if (child.type === "free" || child.type === "skip") zero(child.body, child.end);
    else if (!KEPT_META_BOXES.has(child.type)) {
      zero(child.body, child.end);
      noteDropped(removed, `HEIF meta box ${printable(child.type)}`);
    }
  }
  const { hdlr, iloc, iinf, iprp, idat, pitm, iref } = one;
  if (!hdlr || String.fromCharCode(...meta.subarray(hdlr.body + 8, hdlr.body + 12)) !== "pict") throw new StripError("heif: meta has no pict handler");
  const name = meta.subarray(Math.min(hdlr.body + 24, hdlr.end), hdlr.end); // hdlr's name: free text, the last field
  if (name.some((c) => c !== 0)) {
    zero(hdlr.end - name.length, hdlr.end);
    noteDropped(removed, "HEIF hdlr name");
  }
  if (!iloc || !iinf || !iprp || !pitm) throw new StripError("heif: meta lacks its pitm, iloc, iinf or iprp box");
  const thumbnails = thumbnailItems(iref ? readReferences(meta, iref) : [], readPrimary(meta, pitm));
  planProperties(meta, iprp, zero, removed, kept, thumbnails);

  const infos = new Map<number, ItemInfo>();
  for (const info of readItemInfos(meta, iinf)) {
    if (infos.has(info.id)) throw new StripError(`heif: item ${info.id} is described twice`);
    infos.set(info.id, info);
    // A thumbnail's item type is zeroed: an item of unknown type is ignored by readers, so none looks for its (zeroed) data.
    if (thumbnails.has(info.id) && KEPT_ITEMS.has(info.type)) zero(info.typeAt, info.typeAt + 4);
  }
  const seen = new Set<number>();
  const keptIdat: Range[] = [];
  for (const item of readItemLocations(meta, iloc)) {
    if (seen.has(item.id)) throw new StripError(`heif: item ${item.id} is located twice`);
    seen.add(item.id);
    if (item.dataReference !== 0) throw new StripError(`heif: item ${item.id} has its data in another file`);
    const dropName = itemDropName(infos.get(item.id), item.id) ?? thumbnails.get(item.id) ?? null;
    if (dropName) noteDropped(removed, dropName);
    if (item.method === 2) continue; // offsets into other items' data: those items' own extents decide
    if (item.method > 2) throw new StripError(`heif: item ${item.id} has construction method ${item.method}`);
    item.extents.forEach(({ offset: at, length }, e) => {
      if (item.method === 1) {
        if (!idat || length === 0 || at + length > idat.end - idat.body) throw new StripError(`heif: item ${item.id} points outside the idat box`);
        if (!dropName) keptIdat.push([idat.body + at, idat.body + at + length]);
        else if (dropName === XMP && e === 0) plan.xmp.push([offset + idat.body + at, offset + idat.body + at + length]);
      } else if (dropName) {
        if (length === 0) throw new StripError(`heif: item ${item.id} (${dropName}) runs to the end of the file`);
        plan.dropped.push({ range: [at, at + length], what: `item ${item.id} (${dropName})` });
        if (dropName === XMP && e === 0) plan.xmp.push([at, at + length]);
      } else plan.kept.push([at, length === 0 ? Number.POSITIVE_INFINITY : at + length]);
    });
  }
  if (idat) for (const [from, to] of outside([idat.body, idat.end], keptIdat)) zero(from, to);
  return plan;
}

/** Zeroes every property not kept and every association to it; names the kept colour and transformation properties. */
function planProperties(meta: Uint8Array, iprp: Box, zero: (from: number, to: number) => void, removed: string[], kept: string[], thumbnails: Map<number, string>): void {
  const children = childBoxes(meta, iprp.body, iprp.end, "iprp");
  const ipco = children.filter((c) => c.type === "ipco");
  if (ipco.length !== 1) throw new StripError(`heif: iprp holds ${ipco.length} ipco boxes, not 1`);
  const properties = childBoxes(meta, ipco[0]!.body, ipco[0]!.end, "ipco");
  const droppedIndex = new Set<number>();
  properties.forEach((p, i) => {
    if (KEPT_PROPERTIES.has(p.type)) {
      const name = propertyKeptName(meta, p);
      if (name) noteDropped(kept, name);
      return;
    }
    droppedIndex.add(i + 1);
    zero(p.body, p.end);
    noteDropped(removed, `HEIF property ${printable(p.type)}`);
  });
  for (const c of children) {
    if (c.type === "ipco") continue;
    if (c.type !== "ipma") {
      zero(c.body, c.end);
      noteDropped(removed, `HEIF iprp box ${printable(c.type)}`);
      continue;
    }
    for (const a of readAssociations(meta, c)) {
      if (a.property > properties.length) throw new StripError(`heif: item ${a.item} is associated with property ${a.property} of ${properties.length}`);
      if (droppedIndex.has(a.property) || thumbnails.has(a.item)) zero(a.at, a.at + a.size);
    }
  }
}

/** The parts of `[from, to)` that none of `keep` covers, in order. */
export function outside([from, to]: Range, keep: Range[]): Range[] {
  const out: Range[] = [];
  let at = from;
  for (const [a, b] of [...keep].sort((x, y) => x[0] - y[0])) {
    if (b <= at) continue;
    if (a >= to) break;
    if (a > at) out.push([at, a]);
    at = Math.max(at, b);
  }
  if (at < to) out.push([at, to]);
  return out;
}

/** The ranges sorted and merged where they touch or overlap. */
export function merged(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * The whole file's zero list, once its size and its mdat payloads are known: the meta ranges, the
 * payloads of dropped top-level boxes, and every byte of every mdat that no kept item points at (so
 * data no item names, or an item the walk did not keep, cannot survive). Refused: a kept item
 * pointing outside the file, a dropped one outside every mdat or sharing bytes with a kept one.
 */
export function planFile(plan: MetaPlan, mdats: Range[], topZero: Range[], size: number): { zero: Range[]; xmp: Range[] } {
  const kept = plan.kept.map(([a, b]): Range => [a, b === Number.POSITIVE_INFINITY ? size : b]);
  for (const [a, b] of kept) if (b > size) throw new StripError(`heif: an image item points outside the file (bytes ${a} to ${b} of ${size})`);
  for (const { range: [a, b], what } of plan.dropped) {
    if (!mdats.some(([s, e]) => a >= s && b <= e)) throw new StripError(`heif: ${what} points outside every mdat box`);
    if (kept.some(([s, e]) => a < e && s < b)) throw new StripError(`heif: ${what} shares bytes with an image item`);
  }
  const zero = [...plan.zero, ...topZero];
  for (const mdat of mdats) zero.push(...outside(mdat, kept));
  return { zero: merged(zero), xmp: [...plan.xmp].sort((x, y) => x[0] - y[0]) };
}
