/**
 * Previews for the gallery: a small JPEG per verified image (320 px long side for the grid,
 * 1600 px for the large view of formats browsers cannot show), made once, one at a time,
 * and cached in the home under the image's SHA-256.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { writeFileAtomic } from "../client/home.ts";
import { jpegOrientation } from "./exif-orientation.ts";
import { canDecode, decodeForPreview, PreviewError } from "./preview-decode.ts";
import { fitWithin, onWhite, orient, shrink } from "./resize.ts";
import type { OpenedImage } from "./scan.ts";

export const PREVIEW_SIDES = { thumb: 320, large: 1600 } as const;
export type PreviewSize = keyof typeof PREVIEW_SIDES;
const JPEG_QUALITY = { thumb: 78, large: 85 } as const;

/** GIF and WebP go to the browser as they are when they are this small; larger ones get the placeholder. */
export const AS_IS_MAX_BYTES = 2 * 1024 * 1024;
/** Files larger than this are not read whole for a preview. */
export const MAX_PREVIEW_FILE_BYTES = 256 * 1024 * 1024;
/** Browsers show these themselves, so their large view is the original. */
export const BROWSER_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

export type Preview = { kind: "jpeg"; bytes: Uint8Array } | { kind: "original" } | { kind: "none"; reason: string };

/** RGBA → upright, shrunk, on white, JPEG: the pure part (no files), also what a test calls directly. */
export async function makePreview(bytes: Uint8Array, contentType: string, size: PreviewSize): Promise<Uint8Array> {
  if (!canDecode(contentType)) throw new PreviewError(`no decoder for ${contentType}`);
  const decoded = await decodeForPreview(bytes, contentType);
  // Only JPEG carries its orientation in Exif here; libheif applies HEIF's irot/imir itself.
  const orientation = contentType === "image/jpeg" ? jpegOrientation(bytes) : 1;
  const fit = fitWithin(decoded.width, decoded.height, PREVIEW_SIDES[size]);
  // Shrunk first (cheap to turn afterwards); the long side is the same either way.
  const small = orient(shrink(decoded, fit.width, fit.height), orientation);
  const flat = onWhite(small);
  const { data } = jpeg.encode({ width: flat.width, height: flat.height, data: Buffer.from(flat.data.buffer, flat.data.byteOffset, flat.data.byteLength) }, JPEG_QUALITY[size]);
  return new Uint8Array(data);
}

/** Jobs run one after another, each after the event loop had its turn: requests for cached previews are answered between two decodes. */
class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(() => new Promise<void>((r) => setImmediate(r))).then(job);
    this.tail = next.catch(() => {});
    return next;
  }
}

export class PreviewCache {
  private readonly queue = new OneAtATime();
  private readonly pending = new Map<string, Promise<Uint8Array | null>>();
  /** Without a cache folder (tests, no home) previews live in memory only. */
  private readonly memory = new Map<string, Uint8Array>();
  private readonly failed = new Map<string, string>();

  constructor(private readonly dir: string | null) {}

  private file(key: string): string {
    return join(this.dir!, `${key}.jpg`);
  }

  /** The preview of an opened, verified image (the caller closes the handle afterwards). */
  async preview(opened: OpenedImage, size: PreviewSize): Promise<Preview> {
    const { verdict, stat, handle } = opened;
    const type = verdict.contentType ?? "";
    if (!verdict.verified || !verdict.sha256) return { kind: "none", reason: "not verified" };
    if (!canDecode(type)) return stat.size <= AS_IS_MAX_BYTES && BROWSER_TYPES.has(type) ? { kind: "original" } : { kind: "none", reason: `no preview for ${type} larger than ${AS_IS_MAX_BYTES} bytes` };
    if (size === "large" && BROWSER_TYPES.has(type)) return { kind: "original" };
    const key = `${verdict.sha256}-${PREVIEW_SIDES[size]}`;
    const failure = this.failed.get(key);
    if (failure) return { kind: "none", reason: failure };
    const known = this.memory.get(key) ?? (this.dir ? await readFile(this.file(key)).then((b) => new Uint8Array(b), () => null) : null);
    if (known) return { kind: "jpeg", bytes: known };
    if (stat.size > MAX_PREVIEW_FILE_BYTES) return { kind: "none", reason: "the file is too large for a preview" };
    let making = this.pending.get(key);
    if (!making) {
      // Read now (the handle is the caller's), decode later in the queue.
      const bytes = new Uint8Array(stat.size);
      const { bytesRead } = await handle.read(bytes, 0, stat.size, 0);
      // GA2: what is decoded must be what was verified: the file may have changed since.
      if (bytesRead !== stat.size || createHash("sha256").update(bytes).digest("hex") !== verdict.sha256) return { kind: "none", reason: "the file changed; reload" };
      making = this.queue.run(() => this.make(key, bytes, type, size));
      this.pending.set(key, making);
      void making.finally(() => this.pending.delete(key));
    }
    const made = await making;
    return made ? { kind: "jpeg", bytes: made } : { kind: "none", reason: this.failed.get(key) ?? "no preview" };
  }

  private async make(key: string, bytes: Uint8Array, type: string, size: PreviewSize): Promise<Uint8Array | null> {
    try {
      const preview = await makePreview(bytes, type, size);
      if (this.dir) {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(this.file(key), preview, 0o600);
      } else this.memory.set(key, preview);
      return preview;
    } catch (error) {
      this.failed.set(key, error instanceof PreviewError ? error.message : `cannot make a preview: ${(error as Error).message}`);
      return null;
    }
  }
}
