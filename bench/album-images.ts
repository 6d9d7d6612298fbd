/**
 * The album's images: real baseline JPEGs of exactly `size` bytes, made once per run.
 * One picture (noise over a gradient, so it stays near 1.8 bytes a pixel) is encoded with
 * jpeg-js (~1.5 s); each file is that picture with its own JFIF density (so every file has
 * its own bytes and digest) and 0xFF fill bytes before EOI up to the size (T.81 B.1.1.2
 * allows any number of fill bytes before a marker). The metadata stripper keeps both (JFIF
 * APP0 and the scan pass through), so `sis post` sends every byte that openssl reads.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";

/** Offsets in jpeg-js's output: SOI, then APP0 "JFIF\0" v1.1 units, then Xdensity and Ydensity (big-endian). */
const X_DENSITY_AT = 14;
const Y_DENSITY_AT = 16;

/** One encoded picture a little under `size` bytes. */
function encodeBase(size: number): Uint8Array {
  // ~1.79 bytes a pixel at quality 90 for this content; aim 4% under and shrink if over.
  for (let side = Math.floor(Math.sqrt((size * 0.96) / 1.79)); side > 64; side = Math.floor(side * 0.97)) {
    const data = new Uint8Array(side * side * 4);
    let x = 0x9e3779b9;
    for (let i = 0; i < data.length; i += 4) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const px = i >> 2;
      const gradient = (((px % side) + Math.floor(px / side)) * 255) / (2 * side);
      data[i] = (gradient + (x >>> 24)) & 0xff;
      data[i + 1] = (x >>> 16) & 0xff;
      data[i + 2] = (255 - gradient + ((x >>> 8) & 0x7f)) & 0xff;
      data[i + 3] = 0xff;
    }
    const out = new Uint8Array(jpeg.encode({ data, width: side, height: side }, 90).data);
    if (out.length <= size - 2) return out;
  }
  throw new Error(`cannot encode a JPEG under ${size} bytes`);
}

/** Writes `count` JPEGs of exactly `size` bytes into `dir` (created); returns their names, in order. */
export function writeAlbum(dir: string, count: number, size: number, prefix: string): string[] {
  mkdirSync(dir, { recursive: true });
  const base = encodeBase(size);
  if (base[0] !== 0xff || base[1] !== 0xd8 || base.at(-2) !== 0xff || base.at(-1) !== 0xd9) throw new Error("jpeg-js gave no SOI … EOI");
  if (Buffer.from(base.subarray(6, 11)).toString("latin1") !== "JFIF\0") throw new Error("jpeg-js gave no JFIF APP0 first");
  const file = new Uint8Array(size);
  file.set(base.subarray(0, base.length - 2));
  file.fill(0xff, base.length - 2, size - 1); // fill bytes, the last 0xFF being EOI's own
  file[size - 1] = 0xd9;
  const names: string[] = [];
  const view = new DataView(file.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint16(X_DENSITY_AT, 1 + (i % 60_000));
    view.setUint16(Y_DENSITY_AT, 1 + Math.floor(i / 60_000));
    const name = `${prefix}-${String(i + 1).padStart(4, "0")}.jpg`;
    writeFileSync(join(dir, name), file);
    names.push(name);
  }
  return names;
}

/** The album is made of real JPEGs: one decodes to its picture's size. */
export function checkDecodes(path: string): void {
  const image = jpeg.decode(new Uint8Array(readFileSync(path)), { useTArray: true, maxMemoryUsageInMB: 256 });
  if (!(image.width > 0 && image.height > 0)) throw new Error(`${path} does not decode as a JPEG`);
}
