/** HEIF files built box by box for the HEIF stripper tests: a well-formed one with every kind of item and property, and the offsets of its parts. */
import { be32, bytes } from "./strip-images.ts";

type Part = number[] | string | Uint8Array;
const be16 = (n: number) => [n >> 8, n & 0xff];
export const box = (type: string, ...parts: Part[]) => {
  const body = bytes(...parts);
  return bytes(be32(8 + body.length), type, body);
};
export const fullBox = (type: string, version: number, flags: number, ...parts: Part[]) =>
  box(type, [version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff], ...parts);
const infe = (id: number, type: string, extra: Part = "") => fullBox("infe", 2, 0, be16(id), be16(0), type, "\0", extra);

/** Pixel bytes (an hvc1 stand-in), an Exif payload, an XMP packet, and bytes no item names. */
export const IMAGE = bytes("IMAGE-DATA-0123456789-IMAGE-DATA");
export const EXIF = bytes([0, 0, 0, 0], "MM\0*", [0, 0, 0, 8], "GPS 48.8584 N Apple iPhone serial F2LXK0XYZ123");
export const XMP = bytes('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>GPS 48.8584 Fixture-Author</rdf:RDF></x:xmpmeta>');
export const HIDDEN = bytes("hidden-in-mdat GPS 48.8584");
export const IDAT_EXIF = bytes([0, 0, 0, 0], "MM\0*", [0, 0, 0, 8], "idat-GPS");

export interface HeifOptions {
  /** Extra boxes at the end of `meta`. */
  metaExtra?: Uint8Array[];
  /** Extra properties at the end of `ipco` (index 6 on). */
  propsExtra?: Uint8Array[];
  /** Overrides of the image item's extent (file offset, length); default: IMAGE in mdat. */
  imageExtent?: (mdatData: number) => [number, number];
  exifExtent?: (mdatData: number) => [number, number];
  /** Use a 64-bit largesize for mdat. */
  largeMdat?: boolean;
  /** Write mdat with size 0 (to the end of the file). */
  openMdat?: boolean;
  /** Put an Exif item in idat (construction method 1) too. */
  idatExif?: boolean;
  /** Boxes after mdat. */
  after?: Uint8Array[];
  /** Put meta after mdat (allowed: the stripper reads the file twice). */
  metaLast?: boolean;
  /** Add item 5, an hvc1 thumbnail of item 1 (THUMB, after HIDDEN in mdat), sharing its hvcC and ispe. */
  thumbnail?: boolean;
}

export const THUMB = bytes("THUMBNAIL-OF-THE-UNCROPPED-PICTURE");

/** ftyp, meta (hdlr, pitm, iloc v1, iinf, iref, iprp: hvcC ispe colr irot imir udes, ipma), mdat (IMAGE, EXIF, XMP, HIDDEN). */
export function heifFile(o: HeifOptions = {}) {
  const ftyp = box("ftyp", "heic", [0, 0, 0, 0], "mif1heic");
  const build = (mdatData: number) => {
    const image = o.imageExtent?.(mdatData) ?? [mdatData, IMAGE.length];
    const exif = o.exifExtent?.(mdatData) ?? [mdatData + IMAGE.length, EXIF.length];
    const xmp = [mdatData + IMAGE.length + EXIF.length, XMP.length];
    const loc = (id: number, method: number, [offset, length]: number[]) => [...be16(id), 0, method, ...be16(0), ...be16(1), ...be32(offset!), ...be32(length!)];
    const thumb = [mdatData + IMAGE.length + EXIF.length + XMP.length + HIDDEN.length, THUMB.length];
    const items = [loc(1, 0, image), loc(2, 0, exif), loc(3, 0, xmp), ...(o.idatExif ? [loc(4, 1, [0, IDAT_EXIF.length])] : []),
      ...(o.thumbnail ? [loc(5, 0, thumb)] : [])];
    const iloc = fullBox("iloc", 1, 0, [0x44, 0x00], be16(items.length), ...items); // 4-byte offsets and lengths, no base offset
    const iinf = fullBox("iinf", 0, 0, be16(items.length), infe(1, "hvc1"), infe(2, "Exif"), infe(3, "mime", "application/rdf+xml\0"),
      ...(o.idatExif ? [infe(4, "Exif")] : []), ...(o.thumbnail ? [infe(5, "hvc1")] : []));
    const props = [
      box("hvcC", [1, 2, 3, 4]), box("ispe", [0, 0, 0, 0], be32(320), be32(200)), box("colr", "nclx", [0, 1, 0, 13, 0, 6, 0x80]),
      box("irot", [3]), box("imir", [1]), fullBox("udes", 0, 0, "en\0Eiffel picnic\0at the tower\0tags\0"), ...(o.propsExtra ?? []),
    ];
    const ipma = fullBox("ipma", 0, 0, be32(o.thumbnail ? 3 : 2), be16(1), [6, 0x81, 0x02, 0x83, 0x84, 0x85, 0x06], be16(2), [1, 0x06],
      ...(o.thumbnail ? [be16(5), [2, 0x81, 0x02]] : []));
    const meta = fullBox("meta", 0, 0,
      fullBox("hdlr", 0, 0, [0, 0, 0, 0], "pict", new Uint8Array(12), "\0"),
      fullBox("pitm", 0, 0, be16(1)),
      iloc, iinf,
      fullBox("iref", 0, 0, box("cdsc", be16(2), be16(1), be16(1)), box("cdsc", be16(3), be16(1), be16(1)),
        ...(o.thumbnail ? [box("thmb", be16(5), be16(1), be16(1))] : [])),
      box("iprp", box("ipco", ...props), ipma),
      ...(o.idatExif ? [box("idat", IDAT_EXIF)] : []),
      ...(o.metaExtra ?? []));
    return { meta, image, exif, xmp };
  };
  const mdatHeader = o.largeMdat ? 16 : 8;
  const first = build(0);
  const mdatData = ftyp.length + (o.metaLast ? 0 : first.meta.length) + mdatHeader;
  const { meta, image, exif, xmp } = build(mdatData);
  const payload = bytes(IMAGE, EXIF, XMP, HIDDEN, o.thumbnail ? THUMB : []);
  const mdat = o.largeMdat
    ? bytes(be32(1), "mdat", be32(0), be32(16 + payload.length), payload)
    : bytes(be32(o.openMdat ? 0 : 8 + payload.length), "mdat", payload);
  const file = o.metaLast ? bytes(ftyp, mdat, meta, ...(o.after ?? [])) : bytes(ftyp, meta, mdat, ...(o.after ?? []));
  return { file, at: { meta: o.metaLast ? ftyp.length + mdat.length : ftyp.length, mdatData, image, exif, xmp, hidden: mdatData + IMAGE.length + EXIF.length + XMP.length } };
}

/** What stripping heifFile() must give: Exif, hidden bytes and udes zeroed, its association cleared, XMP emptied. */
export function strippedHeif(o: HeifOptions = {}) {
  const { file, at } = heifFile(o);
  const out = file.slice();
  out.fill(0, at.exif[0]!, at.exif[0]! + at.exif[1]!);
  out.fill(0, at.hidden, at.hidden + HIDDEN.length);
  const xmp = bytes('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>');
  out.fill(0x20, at.xmp[0]!, at.xmp[0]! + at.xmp[1]!);
  out.set(xmp, at.xmp[0]!);
  const text = (s: string) => Buffer.from(file).indexOf(s);
  const udes = text("udes");
  out.fill(0, udes + 4, udes + 4 + 4 + "en\0Eiffel picnic\0at the tower\0tags\0".length);
  const ipma = text("ipma");
  out[ipma + 4 + 4 + 4 + 2 + 1 + 5] = 0; // item 1's sixth association (udes, index 6)
  out[ipma + 4 + 4 + 4 + 2 + 1 + 6 + 2 + 1] = 0; // item 2's association to udes
  if (o.thumbnail) {
    const thumb = at.hidden + HIDDEN.length;
    out.fill(0, thumb, thumb + THUMB.length); // its data
    out.fill(0, ipma + 28, ipma + 30); // its two associations (after the entry count, item 1's entry of 9 bytes, item 2's of 4, its id and count)
    const type = Buffer.from(file).lastIndexOf("hvc1");
    out.fill(0, type, type + 4); // its item type
  }
  return out;
}
