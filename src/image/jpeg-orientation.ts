/** The Exif orientation of a JPEG: read from the original APP1 Exif segment, written back as a minimal APP1 holding only that tag. */
import { hasPrefix, need, StripError } from "./bytes.ts";

/** Exif 2.32 4.6.4 A: Orientation, IFD0 tag 0x0112, type SHORT, count 1, values 1–8 (1 is the default, "top-left"). */
const ORIENTATION = 0x0112;
const SHORT = 3;
/** Where the TIFF header starts in the segment: marker (2), length (2), "Exif\0\0" (6). */
const TIFF_START = 10;

/** What each orientation asks a viewer to do, for the report (Exif 2.32 Table 6 / TIFF 6.0). */
const MEANING: Record<number, string> = {
  2: "mirror horizontal",
  3: "rotate 180",
  4: "mirror vertical",
  5: "mirror horizontal and rotate 270 CW",
  6: "rotate 90 CW",
  7: "mirror horizontal and rotate 90 CW",
  8: "rotate 270 CW",
};

/**
 * The orientation tag of IFD0 in an APP1 Exif segment (marker to end), or null when it is absent,
 * the default (1), out of range or the Exif is malformed: the segment is dropped either way, so
 * malformed Exif loses the orientation rather than refusing the picture. Every read is bounds-checked
 * against the segment (at most 64 KiB); nothing is allocated.
 */
export function exifOrientation(seg: Uint8Array): number | null {
  if (!hasPrefix(seg, 4, "Exif\0\0")) return null;
  const tiff = seg.subarray(TIFF_START);
  const little = hasPrefix(tiff, 0, "II\x2a\0");
  if (!little && !hasPrefix(tiff, 0, "MM\0\x2a")) return null;
  const u16 = (at: number) => (need(tiff, at, 2, "exif"), little ? tiff[at]! | (tiff[at + 1]! << 8) : (tiff[at]! << 8) | tiff[at + 1]!);
  const u32 = (at: number) => u16(little ? at + 2 : at) * 0x10000 + u16(little ? at : at + 2);
  try {
    const ifd0 = u32(4);
    const count = u16(ifd0);
    for (let i = 0; i < count; i++) {
      const entry = ifd0 + 2 + 12 * i;
      if (u16(entry) !== ORIENTATION) continue;
      if (u16(entry + 2) !== SHORT || u32(entry + 4) !== 1) return null;
      const value = u16(entry + 8);
      return value >= 2 && value <= 8 ? value : null;
    }
    return null;
  } catch (error) {
    if (error instanceof StripError) return null;
    throw error;
  }
}

/** One big-endian IFD entry: tag, type, count 1, and a value field of four bytes. */
const entry = (tag: number, type: number, value: number[]) => [tag >> 8, tag & 0xff, 0, type, 0, 0, 0, 1, ...value];
const RATIONAL = 5;
/** Where the two resolution RATIONALs sit, from the TIFF header: after the header (8), the count (2), 5 entries (60) and the next-IFD offset (4). */
const RATIONALS = 8 + 2 + 5 * 12 + 4;

/**
 * A complete APP1 segment (marker to end, 100 bytes) holding an Exif structure whose only
 * information is the orientation: "Exif\0\0", a big-endian ("MM") TIFF header whose IFD0 starts
 * right after it (offset 8), IFD0 with its entries in ascending tag order and a next-IFD offset of 0
 * (no IFD1, so no thumbnail), then the two RATIONAL values (Exif 2.32 4.5.4, 4.6.2). Besides
 * Orientation (0x0112, SHORT) it holds the IFD0 tags Exif 2.32 Table 17 marks mandatory for a
 * compressed primary image, with their defaults: XResolution and YResolution 72/1, ResolutionUnit 2
 * (inches), YCbCrPositioning 1 (centred). They are the same constants in every file, so they say
 * nothing about the camera or the user, and `exiftool -validate` finds no missing tag.
 */
export function orientationSegment(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 1 || value > 8) throw new RangeError(`orientation ${value} is not 1 to 8`);
  const tiff = [
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // "MM", 42, IFD0 at offset 8
    0x00, 0x05, // five entries
    ...entry(0x0112, SHORT, [0, value, 0, 0]), // Orientation
    ...entry(0x011a, RATIONAL, [0, 0, 0, RATIONALS]), // XResolution
    ...entry(0x011b, RATIONAL, [0, 0, 0, RATIONALS + 8]), // YResolution
    ...entry(0x0128, SHORT, [0, 2, 0, 0]), // ResolutionUnit: inches
    ...entry(0x0213, SHORT, [0, 1, 0, 0]), // YCbCrPositioning: centred
    0x00, 0x00, 0x00, 0x00, // no next IFD
    0, 0, 0, 72, 0, 0, 0, 1, // 72/1
    0, 0, 0, 72, 0, 0, 0, 1, // 72/1
  ];
  const length = 2 + 6 + tiff.length;
  return Uint8Array.of(0xff, 0xe1, length >> 8, length & 0xff, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00, ...tiff); // APP1, length, "Exif\0\0"
}

/** The minimal APP1 to write in place of an Exif segment and the name to report it kept under, or null when there is no orientation to keep. */
export function exifReplacement(seg: Uint8Array): { segment: Uint8Array; kept: string } | null {
  const value = exifOrientation(seg);
  if (value === null) return null;
  return { segment: orientationSegment(value), kept: `Exif Orientation ${value} (${MEANING[value]})` };
}
