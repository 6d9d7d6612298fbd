/** src/image/jpeg-facts.ts: the orientation and size the gallery's previews read, on camera files (exiftool's figures) and JPEGs built byte by byte. */
import { describe, expect, test } from "bun:test";
import { jpegOrientation, jpegSize } from "../../src/image/jpeg-facts.ts";
import { orientationSegment } from "../../src/image/jpeg-orientation.ts";
import { stripBytes } from "../../src/image/strip-bytes.ts";
import { bytes, fixture } from "./strip-images.ts";

const be16 = (n: number) => [n >> 8, n & 0xff];
const seg = (marker: number, body: number[] | string) => bytes([0xff, marker], be16(bytes(body).length + 2), body);
const SOI = [0xff, 0xd8];
const JFIF = seg(0xe0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
/** SOF0 of a 480×240 picture: precision, lines (height), samples per line (width), one component. */
const SOF0 = seg(0xc0, [8, ...be16(240), ...be16(480), 1, 1, 0x11, 0]);
const SOS = seg(0xda, [1, 1, 0, 0, 63, 0]);
const EOI = [0xff, 0xd9];

describe("jpeg-facts", () => {
  test("camera files: the figures exiftool reads (portrait.jpg Orientation 6, 320×200; sample.jpg none)", () => {
    expect(jpegOrientation(fixture("portrait.jpg"))).toBe(6);
    expect(jpegSize(fixture("portrait.jpg"))).toEqual({ width: 320, height: 200 });
    expect(jpegOrientation(fixture("sample.jpg"))).toBe(1);
    expect(jpegSize(fixture("sample.jpg"))).toEqual({ width: 320, height: 200 });
  });

  test("what the stripper writes back (a minimal APP1) is read as the original's orientation", async () => {
    const stripped = await stripBytes("image/jpeg", fixture("portrait.jpg"));
    expect(stripped.kept).toContain("Exif Orientation 6 (rotate 90 CW)");
    expect(jpegOrientation(stripped.bytes)).toBe(6);
  });

  test.each([2, 3, 4, 5, 6, 7, 8])("orientation %i in a built JPEG, after fill bytes and JFIF", (value) => {
    const image = bytes(SOI, JFIF, [0xff, 0xff], orientationSegment(value), SOF0, SOS, [0x12, 0x34], EOI);
    expect(jpegOrientation(image)).toBe(value);
    expect(jpegSize(image)).toEqual({ width: 480, height: 240 });
  });

  test("only the first Exif APP1 counts, and nothing after the first scan is read", () => {
    expect(jpegOrientation(bytes(SOI, orientationSegment(1), orientationSegment(6), SOF0, SOS, EOI))).toBe(1);
    expect(jpegOrientation(bytes(SOI, SOF0, SOS, orientationSegment(6), EOI))).toBe(1);
    expect(jpegSize(bytes(SOI, JFIF, SOS, SOF0, EOI))).toBeNull();
  });

  test("what cannot be read gives the defaults, never a read outside the bytes", () => {
    const whole = bytes(SOI, orientationSegment(6), SOF0, SOS, EOI);
    expect(jpegOrientation(whole.subarray(0, 40))).toBe(1); // the APP1 runs past the end
    expect(jpegSize(whole.subarray(0, whole.length - SOS.length - 2 - 3))).toBeNull(); // SOF0 cut short
    expect(jpegSize(bytes(SOI, seg(0xc0, [8, 0, 1])))).toBeNull(); // a frame header too short for its size
    expect(jpegOrientation(bytes("\x89PNG\r\n\x1a\n"))).toBe(1);
    expect(jpegSize(new Uint8Array())).toBeNull();
    expect(jpegOrientation(bytes(SOI, [0x00, 0xe1, 0, 4, 0, 0]))).toBe(1); // no marker where one must be
    // DHT (0xC4) shares the SOF range but is not a frame header.
    expect(jpegSize(bytes(SOI, seg(0xc4, [8, ...be16(9), ...be16(9), 1]), SOF0, SOS, EOI))).toEqual({ width: 480, height: 240 });
  });
});
