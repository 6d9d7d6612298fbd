/** Decoding a saved image to RGBA for its preview, in embedded wasm or pure JS: JPEG (mozjpeg via @jsquash/jpeg, else jpeg-js), PNG (pngjs), HEIC/HEIF (libheif-js). */
import { readFile } from "node:fs/promises";
import { PNG } from "pngjs";
import mozjpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm" with { type: "file" };
import { jpegSize } from "../image/jpeg-facts.ts";
import jpeg from "jpeg-js";
import type { Rgba } from "./resize.ts";

/** Larger pictures get no preview (a placeholder): 50 megapixels are 200 MB of RGBA already. */
export const MAX_PREVIEW_SOURCE_MP = 50;

export type PreviewSource = "image/jpeg" | "image/png" | "image/heic" | "image/heif";

export class PreviewError extends Error {}

/**
 * What this module decodes. GIF, WebP and AVIF are shown by the browser itself (see thumbnails.ts):
 * this libheif build has no AV1 decoder, and every current browser decodes AVIF.
 */
export function canDecode(contentType: string): contentType is PreviewSource {
  return contentType === "image/jpeg" || contentType === "image/png" || contentType === "image/heic" || contentType === "image/heif";
}

function tooLarge(width: number, height: number): void {
  if (width * height > MAX_PREVIEW_SOURCE_MP * 1_000_000) throw new PreviewError(`${width}×${height} is larger than ${MAX_PREVIEW_SOURCE_MP} megapixels`);
}

function png(bytes: Uint8Array): Rgba {
  if (bytes.length >= 24) tooLarge(new DataView(bytes.buffer, bytes.byteOffset).getUint32(16), new DataView(bytes.buffer, bytes.byteOffset).getUint32(20));
  try {
    const { width, height, data } = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { checkCRC: false });
    return { width, height, data };
  } catch (error) {
    throw new PreviewError(`cannot decode the PNG: ${(error as Error).message}`);
  }
}

type MozDecode = (buffer: ArrayBuffer) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
let mozjpeg: Promise<MozDecode | null> | null = null;

/** mozjpeg (wasm, embedded as a file by bun build) is four times faster than jpeg-js; jpeg-js stays as the fallback. */
function loadMozjpeg(): Promise<MozDecode | null> {
  mozjpeg ??= (async () => {
    try {
      // Its result is an ImageData, which Bun does not have: a plain one will do.
      const g = globalThis as { ImageData?: unknown };
      g.ImageData ??= class ImageData {
        constructor(
          readonly data: Uint8ClampedArray,
          readonly width: number,
          readonly height: number,
        ) {}
      };
      const mod = await import("@jsquash/jpeg/decode.js");
      await mod.init(await WebAssembly.compile(await readFile(mozjpegWasm)));
      return (buffer: ArrayBuffer) => mod.default(buffer, { preserveOrientation: false }) as unknown as ReturnType<MozDecode>;
    } catch {
      return null;
    }
  })();
  return mozjpeg;
}

async function jpg(bytes: Uint8Array): Promise<Rgba> {
  const size = jpegSize(bytes);
  if (!size) throw new PreviewError("cannot decode the JPEG: no frame header before the image data");
  tooLarge(size.width, size.height);
  const moz = await loadMozjpeg();
  if (moz) {
    try {
      const { width, height, data } = await moz(bytes.slice().buffer);
      return { width, height, data };
    } catch (error) {
      throw new PreviewError(`cannot decode the JPEG: ${(error as Error).message}`);
    }
  }
  try {
    const { width, height, data } = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PREVIEW_SOURCE_MP, maxMemoryUsageInMB: 1024 });
    return { width, height, data };
  } catch (error) {
    throw new PreviewError(`cannot decode the JPEG: ${(error as Error).message}`);
  }
}

interface HeifImage {
  get_width(): number;
  get_height(): number;
  display(target: { data: Uint8ClampedArray; width: number; height: number }, done: (result: { data: Uint8ClampedArray } | null) => void): void;
  free?(): void;
}
interface LibHeif {
  HeifDecoder: new () => { decode(bytes: Uint8Array): HeifImage[] };
}
let libheif: Promise<LibHeif> | null = null;

/** libheif (LGPL, wasm inlined in the bundle, 2 MB): loaded on the first HEIC only. Rotation and mirroring (irot/imir) are applied by libheif. */
async function heif(bytes: Uint8Array): Promise<Rgba> {
  // @ts-expect-error: the package ships no types for this entry point
  libheif ??= import("libheif-js/wasm-bundle.js").then((m: { default: LibHeif }) => m.default);
  const lib = await libheif;
  const images = new lib.HeifDecoder().decode(bytes);
  const image = images[0];
  if (!image) throw new PreviewError("libheif found no image in the file");
  try {
    const width = image.get_width();
    const height = image.get_height();
    tooLarge(width, height);
    const data = await new Promise<Uint8ClampedArray>((resolve, reject) =>
      image.display({ data: new Uint8ClampedArray(width * height * 4), width, height }, (result) => (result ? resolve(result.data) : reject(new PreviewError("libheif cannot decode the image")))),
    );
    return { width, height, data };
  } finally {
    for (const i of images) i.free?.();
  }
}

export async function decodeForPreview(bytes: Uint8Array, contentType: PreviewSource): Promise<Rgba> {
  if (contentType === "image/jpeg") return await jpg(bytes);
  if (contentType === "image/png") return png(bytes);
  return heif(bytes);
}

/** Which JPEG decoder this build runs (tests check that the embedded wasm loads). */
export async function jpegDecoder(): Promise<"mozjpeg" | "jpeg-js"> {
  return (await loadMozjpeg()) ? "mozjpeg" : "jpeg-js";
}
