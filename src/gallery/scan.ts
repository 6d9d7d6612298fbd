/** The gallery's view of DIR: saved images with their .p7s, each re-verified, results cached by file identity. */
import type { Stats } from "node:fs";
import { lstat, readdir, realpath } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import type { FileHandle } from "node:fs/promises";
import { imageNameProblem, isValidUsername } from "../protocol/index.ts";
import { openPlainFile, stamp, verifyOpenImage, type Verdict } from "../client/verify-file.ts";

export const SIGNATURE_SUFFIX = ".p7s";
const VERIFY_CONCURRENCY = 4;

export interface GalleryImage extends Verdict {
  owner: string;
  name: string;
  size: number;
  /** When the file was saved (its mtime), ISO 8601. */
  savedAt: string;
  /** Where the page fetches the bytes; null when they are withheld because the image does not verify. */
  url: string | null;
  /** The grid's small preview, and what the large view shows (the original where browsers can show it); null when withheld. */
  thumb: string | null;
  large: string | null;
}

export interface OpenedImage {
  verdict: Verdict;
  handle: FileHandle;
  stat: Stats;
}

/** Owner and name as the gallery accepts them: what `sis watch` could have written, and nothing else. */
export function isSafeImagePath(owner: string, name: string): boolean {
  return isValidUsername(owner) && imageNameProblem(name) === null;
}

export function imageUrl(owner: string, name: string): string {
  return `/images/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/** ?v= changes with the bytes, so a cached preview is never stale. */
export function previewUrl(owner: string, name: string, sha256: string, size: "thumb" | "large"): string {
  return `/previews/${encodeURIComponent(owner)}/${encodeURIComponent(name)}?v=${sha256.slice(0, 16)}${size === "large" ? "&size=large" : ""}`;
}

const BROWSER_SHOWS = new Set(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"]);

export class GalleryScanner {
  /** path -> the verdict for the file identity (image stamp | signature stamp) it was computed on. */
  private readonly cache = new Map<string, { key: string; verdict: Promise<Verdict> }>();

  constructor(
    readonly dir: string,
    private readonly caDer: Uint8Array,
  ) {}

  /** Every saved image, newest first. A missing DIR is an empty gallery. */
  async list(): Promise<GalleryImage[]> {
    const root = await realpath(this.dir).catch(() => null);
    if (!root) return [];
    const found: { owner: string; name: string }[] = [];
    for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      // Dirent.isDirectory() is false for a symlink: a linked owner directory is never entered.
      if (!entry.isDirectory() || !isValidUsername(entry.name)) continue;
      const files = await readdir(join(root, entry.name), { withFileTypes: true }).catch(() => []);
      const plain = new Set(files.filter((f) => f.isFile()).map((f) => f.name));
      for (const name of plain) {
        // Names starting with a dot (.sis-partial-*) fail imageNameProblem; the .p7s must sit beside the image.
        if (isSafeImagePath(entry.name, name) && plain.has(name + SIGNATURE_SUFFIX)) found.push({ owner: entry.name, name });
      }
    }
    const images: GalleryImage[] = [];
    let next = 0;
    const worker = async () => {
      while (next < found.length) {
        const { owner, name } = found[next++]!;
        const opened = await this.openIn(root, owner, name);
        if (!opened) continue;
        await opened.handle.close();
        const { stat, verdict } = opened;
        const ok = verdict.verified && verdict.sha256 !== null;
        const url = ok ? imageUrl(owner, name) : null;
        const thumb = ok ? previewUrl(owner, name, verdict.sha256!, "thumb") : null;
        const large = ok ? (BROWSER_SHOWS.has(verdict.contentType ?? "") ? url : previewUrl(owner, name, verdict.sha256!, "large")) : null;
        images.push({ owner, name, size: stat.size, savedAt: stat.mtime.toISOString(), url, thumb, large, ...verdict });
      }
    };
    await Promise.all(Array.from({ length: VERIFY_CONCURRENCY }, worker));
    const seen = new Set(found.map(({ owner, name }) => join(root, owner, name)));
    for (const path of this.cache.keys()) if (!seen.has(path)) this.cache.delete(path);
    return images.sort((a, b) => b.savedAt.localeCompare(a.savedAt) || a.owner.localeCompare(b.owner) || a.name.localeCompare(b.name));
  }

  /**
   * Opens OWNER/NAME for reading with its verdict, or null if it is not a saved image inside DIR.
   * The caller owns the returned handle and must close it.
   */
  async open(owner: string, name: string): Promise<OpenedImage | null> {
    if (!isSafeImagePath(owner, name)) return null;
    const root = await realpath(this.dir).catch(() => null);
    return root ? this.openIn(root, owner, name) : null;
  }

  private async openIn(root: string, owner: string, name: string): Promise<OpenedImage | null> {
    const ownerDir = join(root, owner);
    const path = join(ownerDir, name);
    // Belt and braces: both names are single plain segments, so the path cannot leave root.
    if (resolve(path) !== path || !path.startsWith(root + sep)) return null;
    const ownerStat = await lstat(ownerDir).catch(() => null);
    if (!ownerStat?.isDirectory()) return null;
    const sigStat = await lstat(path + SIGNATURE_SUFFIX).catch(() => null);
    if (!sigStat?.isFile()) return null;
    const opened = await openPlainFile(path);
    if (!opened) return null;
    try {
      // Stamps are taken before reading: a change during verification changes them and forces a new check.
      const key = `${stamp(opened.stat)}|${stamp(sigStat)}`;
      let cached = this.cache.get(path);
      if (cached?.key !== key) {
        cached = { key, verdict: verifyOpenImage({ image: opened.handle, p7sPath: path + SIGNATURE_SUFFIX, owner, name, caDer: this.caDer }) };
        this.cache.set(path, cached);
      }
      return { verdict: await cached.verdict, ...opened };
    } catch (error) {
      // A read error is not a verdict about the image: say so now, and do not remember it.
      this.cache.delete(path);
      const verdict: Verdict = { verified: false, reason: `cannot read the file: ${(error as Error).message}`, contentType: null, sha256: null, signingTime: null, cert: null };
      return { verdict, ...opened };
    }
  }
}
