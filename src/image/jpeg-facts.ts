/** Facts a viewer needs from a JPEG held in memory, read from its marker segments before the first scan: the Exif orientation and the frame's size. */
import { hasPrefix } from "./bytes.ts";
import { exifOrientation } from "./jpeg-orientation.ts";
import { EOI, isFrameMarker, SOS } from "./strip-jpeg.ts";

const APP1 = 0xe1;

/**
 * The marker segments (marker to end, views of `bytes`) up to the first scan, with the
 * segment rules of strip-jpeg.ts (fill bytes before a marker, SOF markers). It stops
 * quietly at the first thing it cannot read: these facts are hints for a preview, and a
 * picture that breaks them has already been judged by the stripper or the decoder.
 */
function* segmentsBeforeScan(bytes: Uint8Array): Generator<Uint8Array> {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // a fill byte (T.81 B.1.1.2)
      continue;
    }
    if (marker === SOS || marker === EOI) return;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < 2 || at + 2 + length > bytes.length) return;
    yield bytes.subarray(at, at + 2 + length);
    at += 2 + length;
  }
}

/** The Exif Orientation (1…8) of the first APP1 Exif segment, read by the stripper's own reader (jpeg-orientation.ts); 1 when there is none or it cannot be read. */
export function jpegOrientation(bytes: Uint8Array): number {
  for (const seg of segmentsBeforeScan(bytes)) {
    if (seg[1] === APP1 && hasPrefix(seg, 4, "Exif\0\0")) return exifOrientation(seg) ?? 1;
  }
  return 1;
}

/** Width and height from the first start-of-frame segment (isFrameMarker), or null: checked before decoding. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  for (const seg of segmentsBeforeScan(bytes)) {
    if (!isFrameMarker(seg[1]!)) continue;
    // marker (2), length (2), precision (1), lines (2), samples per line (2)
    if (seg.length < 9) return null;
    return { height: (seg[5]! << 8) | seg[6]!, width: (seg[7]! << 8) | seg[8]! };
  }
  return null;
}
