/**
 * Previews for the gallery: a small JPEG per verified image (320 px long side for the grid,
 * 1600 px for the large view of formats browsers cannot show), made once, one at a time
 * in a worker thread, and cached in the home under the image's SHA-256.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../client/home.ts";
import { canDecode, PreviewError } from "./preview-decode.ts";
import { PREVIEW_SIDES, type PreviewSize } from "./preview-make.ts";
import { makePreviewOffThread } from "./preview-thread.ts";
import type { OpenedImage } from "./scan.ts";

export { makePreview, PREVIEW_SIDES, type PreviewSize } from "./preview-make.ts";

/** GIF, WebP and AVIF go to the browser as they are when they are this small; larger ones get the placeholder. */
export const AS_IS_MAX_BYTES = 2 * 1024 * 1024;
/** Files larger than this are not read whole for a preview. */
export const MAX_PREVIEW_FILE_BYTES = 256 * 1024 * 1024;
/** Browsers show these themselves, so their large view is the original. */
export const BROWSER_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"]);

export type Preview = { kind: "jpeg"; bytes: Uint8Array } | { kind: "original" } | { kind: "none"; reason: string };

/** Jobs run one after another, those a page asked for before those made in advance; the event loop has its turn between two. */
class OneAtATime {
  private readonly asked: (() => Promise<void>)[] = [];
  private readonly ahead: (() => Promise<void>)[] = [];
  private busy = false;

  run<T>(job: () => Promise<T>, inAdvance = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      (inAdvance ? this.ahead : this.asked).push(() => job().then(resolve, reject));
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy) return;
    const next = this.asked.shift() ?? this.ahead.shift();
    if (!next) return;
    this.busy = true;
    setImmediate(() =>
      void next().finally(() => {
        this.busy = false;
        this.pump();
      }),
    );
  }
}

/** What warm() needs of a listed image. */
export interface Listed {
  owner: string;
  name: string;
  verified: boolean;
  sha256: string | null;
  contentType: string | null;
}

export class PreviewCache {
  private readonly queue = new OneAtATime();
  /** Previews being made, with the requests waiting for each: a job whose requests all went away (the page was closed) is dropped before it starts. */
  private readonly pending = new Map<string, { making: Promise<Uint8Array | null>; waiting: Set<AbortSignal | null> }>();
  /** Without a cache folder (tests, no home) previews live in memory only. */
  private readonly memory = new Map<string, Uint8Array>();
  private readonly failed = new Map<string, string>();
  /** Grid previews queued to be made in advance. */
  private readonly warming = new Set<string>();

  constructor(private readonly dir: string | null) {}

  private file(key: string): string {
    return join(this.dir!, `${key}.jpg`);
  }

  private async known(key: string): Promise<Uint8Array | null> {
    return this.memory.get(key) ?? (this.dir ? await readFile(this.file(key)).then((b) => new Uint8Array(b), () => null) : null);
  }

  /**
   * Queues the grid previews of these images to be made in advance, after every preview a page
   * asks for: scrolling and the next visit then find them made. Each file is opened (by `open`,
   * which verifies it) only when its turn comes.
   */
  warm(images: Listed[], open: (owner: string, name: string) => Promise<OpenedImage | null>): void {
    for (const image of images) {
      if (!image.verified || !image.sha256 || !canDecode(image.contentType ?? "")) continue;
      const key = `${image.sha256}-${PREVIEW_SIDES.thumb}`;
      if (this.warming.has(key) || this.pending.has(key) || this.failed.has(key) || this.memory.has(key)) continue;
      this.warming.add(key);
      void this.queue
        .run(async () => {
          if (this.pending.has(key) || (await this.known(key))) return;
          const opened = await open(image.owner, image.name);
          if (!opened) return;
          try {
            if (opened.verdict.sha256 !== image.sha256) return;
            await this.preview(opened, "thumb", null, true);
          } finally {
            await opened.handle.close();
          }
        }, true)
        .catch(() => {})
        .finally(() => this.warming.delete(key));
    }
  }

  /** The preview of an opened, verified image (the caller closes the handle afterwards). */
  async preview(opened: OpenedImage, size: PreviewSize, signal: AbortSignal | null = null, inQueue = false): Promise<Preview> {
    const { verdict, stat, handle } = opened;
    const type = verdict.contentType ?? "";
    if (!verdict.verified || !verdict.sha256) return { kind: "none", reason: "not verified" };
    if (!canDecode(type)) return stat.size <= AS_IS_MAX_BYTES && BROWSER_TYPES.has(type) ? { kind: "original" } : { kind: "none", reason: `no preview for ${type} larger than ${AS_IS_MAX_BYTES} bytes` };
    if (size === "large" && BROWSER_TYPES.has(type)) return { kind: "original" };
    const key = `${verdict.sha256}-${PREVIEW_SIDES[size]}`;
    const failure = this.failed.get(key);
    if (failure) return { kind: "none", reason: failure };
    const known = await this.known(key);
    if (known) return { kind: "jpeg", bytes: known };
    if (stat.size > MAX_PREVIEW_FILE_BYTES) return { kind: "none", reason: "the file is too large for a preview" };
    let job = this.pending.get(key);
    // A job made in advance holds the queue's turn; one already pending for this key was asked for by a page
    // meanwhile and is queued behind this turn: waiting for it would wait for ever. It makes the preview next.
    if (job && inQueue) return { kind: "none", reason: "asked for by a page meanwhile" };
    if (!job) {
      // Read when the job's turn comes, not before: queued requests hold open files, not their bytes.
      // The handle is the caller's, open until this job has ended (the caller awaits it).
      const read = async (): Promise<Uint8Array | null> => {
        const bytes = new Uint8Array(stat.size);
        const { bytesRead } = await handle.read(bytes, 0, stat.size, 0);
        // GA2: what is decoded must be what was verified: the file may have changed since.
        return bytesRead === stat.size && createHash("sha256").update(bytes).digest("hex") === verdict.sha256 ? bytes : null;
      };
      const waiting = new Set<AbortSignal | null>();
      const work = async () => {
        if (!inQueue && [...waiting].every((s) => s?.aborted)) return null; // nobody waits any more
        const bytes = await read();
        return bytes ? this.make(key, bytes, type, size) : null;
      };
      // A job made in advance already holds the queue's turn: it makes the preview at once.
      const making = inQueue ? work() : this.queue.run(work);
      job = { making, waiting };
      this.pending.set(key, job);
      void making.finally(() => this.pending.delete(key));
    }
    job.waiting.add(signal);
    const made = await job.making;
    return made ? { kind: "jpeg", bytes: made } : { kind: "none", reason: this.failed.get(key) ?? "no preview" };
  }

  private async make(key: string, bytes: Uint8Array, type: string, size: PreviewSize): Promise<Uint8Array | null> {
    try {
      const preview = await makePreviewOffThread(bytes, type, size);
      // A home that cannot be written to keeps the preview in memory: it is still made only once.
      const stored = this.dir
        ? await mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => writeFileAtomic(this.file(key), preview, 0o600)).then(() => true, () => false)
        : false;
      if (!stored) this.memory.set(key, preview);
      return preview;
    } catch (error) {
      this.failed.set(key, error instanceof PreviewError ? error.message : `cannot make a preview: ${(error as Error).message}`);
      return null;
    }
  }
}
