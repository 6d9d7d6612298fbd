/** Pixels for previews: an RGBA image shrunk by area averaging, turned upright by its EXIF orientation, laid on white. */

export interface Rgba {
  width: number;
  height: number;
  /** 4 bytes a pixel, row by row. */
  data: Uint8Array | Uint8ClampedArray;
}

/** The size to shrink to so the long side is at most `longSide` (never enlarged). */
export function fitWithin(width: number, height: number, longSide: number): { width: number; height: number } {
  const scale = Math.min(1, longSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Each target pixel is the mean of the source pixels it covers (a box filter): no aliasing, one pass over the source. */
export function shrink(src: Rgba, width: number, height: number): Rgba {
  if (width === src.width && height === src.height) return src;
  const sums = new Float64Array(width * height * 4);
  const counts = new Float64Array(width * height);
  const xs = new Uint32Array(src.width);
  for (let x = 0; x < src.width; x++) xs[x] = Math.min(width - 1, Math.floor((x * width) / src.width));
  for (let y = 0; y < src.height; y++) {
    const ty = Math.min(height - 1, Math.floor((y * height) / src.height));
    const row = y * src.width * 4;
    const trow = ty * width;
    for (let x = 0; x < src.width; x++) {
      const t = trow + xs[x]!;
      const s = row + x * 4;
      const a = src.data[s + 3]!;
      // Weighted by alpha, so a transparent pixel's colour does not bleed into its neighbours.
      sums[t * 4] = sums[t * 4]! + src.data[s]! * a;
      sums[t * 4 + 1] = sums[t * 4 + 1]! + src.data[s + 1]! * a;
      sums[t * 4 + 2] = sums[t * 4 + 2]! + src.data[s + 2]! * a;
      sums[t * 4 + 3] = sums[t * 4 + 3]! + a;
      counts[t] = counts[t]! + 1;
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let t = 0; t < width * height; t++) {
    const alpha = sums[t * 4 + 3]!;
    for (let i = 0; i < 3; i++) data[t * 4 + i] = alpha > 0 ? Math.round(sums[t * 4 + i]! / alpha) : 0;
    data[t * 4 + 3] = counts[t]! > 0 ? Math.round(alpha / counts[t]!) : 0;
  }
  return { width, height, data };
}

/** EXIF orientation 1…8 applied: the pixels as the photo is meant to be seen (5…8 swap width and height). */
export function orient(src: Rgba, orientation: number): Rgba {
  if (orientation < 2 || orientation > 8) return src;
  const { width: w, height: h } = src;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: [sx, sy] = [w - 1 - x, y]; break;
        case 3: [sx, sy] = [w - 1 - x, h - 1 - y]; break;
        case 4: [sx, sy] = [x, h - 1 - y]; break;
        case 5: [sx, sy] = [y, x]; break;
        case 6: [sx, sy] = [y, h - 1 - x]; break;
        case 7: [sx, sy] = [w - 1 - y, h - 1 - x]; break;
        default: [sx, sy] = [w - 1 - y, x]; break; // 8
      }
      const s = (sy * w + sx) * 4;
      const t = (y * W + x) * 4;
      data[t] = src.data[s]!;
      data[t + 1] = src.data[s + 1]!;
      data[t + 2] = src.data[s + 2]!;
      data[t + 3] = src.data[s + 3]!;
    }
  }
  return { width: W, height: H, data };
}

/** JPEG has no transparency: transparent parts become white, as on the page's cards. */
export function onWhite(src: Rgba): Rgba {
  const data = new Uint8Array(src.data.length);
  for (let i = 0; i < data.length; i += 4) {
    const a = src.data[i + 3]! / 255;
    for (let c = 0; c < 3; c++) data[i + c] = Math.round(src.data[i + c]! * a + 255 * (1 - a));
    data[i + 3] = 255;
  }
  return { width: src.width, height: src.height, data };
}
