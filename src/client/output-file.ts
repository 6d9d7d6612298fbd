/**
 * Where a verified image lands: OUT/<owner>/<name> and OUT/<owner>/<name>.p7s.
 * Written to a hidden temporary file first, fsynced, then linked into place;
 * link() fails if the target exists, so a different file is never replaced.
 */
import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, readFile, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { createImageDigest } from "../crypto/index.ts";
import { ClientError, fileErrorHint, fileErrorReason, SaveConflictError, SaveError, TrustError } from "./errors.ts";
import { readChunks } from "./file-source.ts";
import { alignedBuffer, alignUp, createForWrite, FILE_HANDLE } from "../runtime/direct-write.ts";
import { dropCache } from "../runtime/drop-cache.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import type { DirSyncs } from "./save-group.ts";

export const PARTIAL_PREFIX = ".sis-partial-";

/** Received images are private to the user who received them (folders 0700, files 0600). */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** Runs a file system step of saving `target`; a failure becomes `cannot save TARGET: reason` (a SaveError). */
async function saving<T>(target: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new SaveError(`cannot save ${target}: ${fileErrorReason(error)}; nothing was saved (${fileErrorHint(error)})`);
  }
}

async function sameContent(path: string, digest: Uint8Array): Promise<boolean> {
  const d = createImageDigest();
  for await (const chunk of readChunks(path)) d.update(chunk);
  return Buffer.compare(d.digest(), digest) === 0;
}

/** Plaintext is gathered into writes of this size (one awaited write per 64 KiB chunk cost ~1.6x the time). */
const WRITE_SIZE = 1024 * 1024;
/** Written data is flushed to disk in the background every this many bytes, so the fsync in commit() has little left. */
const SYNC_EVERY = 8 * 1024 * 1024;

/**
 * Write buffers left by finished files, for the next one (a watcher saves image after
 * image): a buffer goes back only once no write uses it any more.
 */
const spare: Uint8Array[] = [];

export class OutputFile {
  /** Two buffers: one filling while the other is being written; taken on first use. */
  private readonly buffers: Uint8Array[] = [];
  private which = 0;
  private fill = 0;
  private position = 0;
  /** The write in flight, if any: it owns buffers[which ^ 1] until it settles. */
  private writing: Promise<unknown> | null = null;
  private syncing: Promise<unknown> | null = null;
  private unsynced = 0;

  private constructor(
    private readonly dir: string,
    private readonly target: string,
    private readonly tmp: string,
    private handle: FileHandle | null,
    /** Written around the page cache (src/runtime/direct-write.ts): aligned writes, truncated to length at the end. */
    private readonly direct: boolean,
  ) {}

  static async create(outDir: string, owner: string, name: string): Promise<OutputFile> {
    const root = resolve(outDir);
    const dir = join(root, owner);
    const target = join(dir, name);
    // Names were checked to be single segments; this is the belt to those braces.
    if (!target.startsWith(root + sep) || resolve(target) !== target) throw new TrustError("name", `refusing to write outside ${root}`);
    return saving(target, async () => {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
      const st = await lstat(dir);
      if (!st.isDirectory() || st.isSymbolicLink()) throw new TrustError("name", `refusing to write into ${dir}: it is not a plain directory`);
      const tmp = join(dir, PARTIAL_PREFIX + randomBytes(8).toString("hex"));
      const { file, direct } = await createForWrite(FILE_HANDLE, tmp, FILE_MODE);
      return new OutputFile(dir, target, tmp, file, direct);
    });
  }

  /**
   * Copies `chunk` in (the caller may reuse it at once) and writes in WRITE_SIZE pieces, one in
   * flight while the next fills. An error of a write surfaces at a later write() or at commit().
   */
  async write(chunk: Uint8Array): Promise<void> {
    await saving(this.target, () => this.writeChunk(chunk));
  }

  private async writeChunk(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      this.buffers[this.which] ??= spare.pop() ?? alignedBuffer(WRITE_SIZE);
      const take = Math.min(WRITE_SIZE - this.fill, chunk.length - at);
      this.buffers[this.which]!.set(chunk.subarray(at, at + take), this.fill);
      this.fill += take;
      at += take;
      if (this.fill === WRITE_SIZE) await this.flush();
    }
  }

  /** Starts writing the filled buffer, once the previous write (which owns the other buffer) is done. */
  private async flush(): Promise<void> {
    await this.writing;
    if (this.fill === 0) return;
    const handle = this.handle!;
    const buffer = this.buffers[this.which]!;
    // A direct write is whole blocks: the last, short one is padded with zeros, cut off again by place().
    const length = this.direct ? alignUp(this.fill) : this.fill;
    buffer.fill(0, this.fill, length);
    const bytes = buffer.subarray(0, length);
    const position = this.position;
    this.position += this.fill;
    this.which ^= 1;
    this.fill = 0;
    this.writing = FILE_HANDLE.writeAt(handle, bytes, position).then(() => this.syncAhead(handle, bytes.length));
    this.writing.catch(() => {}); // handled here; rethrown where awaited
  }

  /** Gives the write buffers back; called only once every write has settled. */
  private release(): void {
    for (const buffer of this.buffers.splice(0)) if (buffer && spare.length < 2) spare.push(buffer);
  }

  /** fdatasync in the background every SYNC_EVERY bytes; never two at once. */
  private syncAhead(handle: FileHandle, written: number): void {
    this.unsynced += written;
    if (this.unsynced < SYNC_EVERY || this.syncing) return;
    this.unsynced = 0;
    this.syncing = handle.datasync().finally(() => (this.syncing = null));
    this.syncing.catch(() => {}); // only to shorten commit()'s fsync; that one must succeed
  }

  /**
   * Makes the verified image visible; `written` is false if an identical file was already there.
   * The folder is fsynced before this returns, or, with `dirSyncs`, left to it: the caller then
   * must not acknowledge the save before it has synced the folder (src/client/save-group.ts).
   */
  async commit(signature: Uint8Array, digest: Uint8Array, dirSyncs?: DirSyncs): Promise<{ path: string; written: boolean }> {
    return saving(this.target, () => this.place(signature, digest, dirSyncs));
  }

  private async place(signature: Uint8Array, digest: Uint8Array, dirSyncs?: DirSyncs): Promise<{ path: string; written: boolean }> {
    const handle = this.handle!;
    await this.flush();
    await this.writing;
    await this.syncing?.catch(() => {});
    // The padding of the last direct write (and the probe's block of a file shorter than it) goes.
    if (this.direct) await handle.truncate(this.position);
    // The durable point: every byte is written, and this fsync (not the background ones) must succeed.
    await handle.sync();
    // Clean now, if it went through the cache: the watch never reads it back, and the next image reuses the pages (drop-cache.ts).
    if (!this.direct) dropCache(handle.fd);
    await handle.close();
    this.handle = null;
    this.release();
    const p7sTmp = `${this.tmp}.p7s`;
    await writeFile(p7sTmp, signature, { mode: FILE_MODE, flush: true });
    try {
      await link(this.tmp, this.target);
    } catch (error) {
      try {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (await sameContent(this.target, digest)) {
          // Already saved (a repeated delivery). A crash between the two links can have
          // left the image without its signature: put the signature back if it is missing.
          const repaired = await link(p7sTmp, `${this.target}.p7s`).then(() => true, () => false);
          await unlink(this.tmp).catch(() => {});
          // With dirSyncs the entry found may be an earlier save's whose folder sync never ran.
          if (dirSyncs) dirSyncs.add(this.dir);
          else if (repaired) await fsyncDir(this.dir);
          return { path: this.target, written: false };
        }
        throw new SaveConflictError(`cannot save ${this.target}: a different file with that name is already there; move it away or use -o`);
      } finally {
        await unlink(p7sTmp).catch(() => {});
      }
    }
    // The signature is placed with link() too: rename() would replace whatever is called
    // NAME.p7s already, and that may be another image the user saved ("x.png.p7s" is a valid name).
    const p7sTarget = `${this.target}.p7s`;
    try {
      await link(p7sTmp, p7sTarget);
    } catch (error) {
      const same = (error as NodeJS.ErrnoException).code === "EEXIST" && Buffer.compare(await readFile(p7sTarget).catch(() => Buffer.alloc(0)), signature) === 0;
      if (!same) {
        // Take back the image linked a moment ago, so the save is all or nothing; discard() removes the rest.
        await unlink(this.target).catch(() => {});
        await unlink(p7sTmp).catch(() => {});
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        throw new SaveConflictError(`cannot save ${p7sTarget}: a different file with that name is already there; move it away or use -o`);
      }
    }
    await unlink(p7sTmp);
    await unlink(this.tmp);
    if (dirSyncs) dirSyncs.add(this.dir);
    else await fsyncDir(this.dir);
    return { path: this.target, written: true };
  }

  async discard(): Promise<void> {
    await this.writing?.catch(() => {});
    await this.syncing?.catch(() => {});
    this.release();
    if (this.handle) await this.handle.close().catch(() => {});
    this.handle = null;
    await unlink(this.tmp).catch(() => {});
  }
}
