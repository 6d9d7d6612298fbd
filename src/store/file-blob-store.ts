/** FileBlobStore: one file per image ciphertext, written to tmp/, fsynced, then linked into place. */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { BlobReader, BlobStore, BlobWriter } from "../server/ports.ts";
import { FileBlobReader } from "./file-blob-reader.ts";
import { FileBlobWriter } from "./file-blob-writer.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import { createForWrite } from "../runtime/direct-write.ts";
import { RAW_FILE, RawFile } from "./raw-file.ts";

/** Blob ids are server-made random hex: the only thing a blob path is ever built from. */
const BLOB_ID = /^[0-9a-f]{32}$/;
export const DEFAULT_READ_CHUNK = 256 * 1024;
export const MAX_READ_CHUNK = 16 * 1024 * 1024;
const TMP = "tmp";

export function assertBlobId(id: string): void {
  // A user-supplied name can never reach a path: anything but 32 hex chars is refused.
  if (typeof id !== "string" || !BLOB_ID.test(id)) throw new TypeError("blob id must be 32 lower-case hex characters");
}

/** A blob offset (BlobStore.open's `from`): a non-negative safe integer. */
export function assertOffset(from: number): void {
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError("a blob offset must be a non-negative integer");
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

export class FileBlobStore implements BlobStore {
  private constructor(readonly dir: string) {}

  /** Creates `dir` and `dir/tmp` (0700) if needed. */
  static async open(dir: string): Promise<FileBlobStore> {
    await mkdir(join(dir, TMP), { recursive: true, mode: 0o700 });
    // mkdir's mode is masked by umask and ignored for existing directories: set it outright.
    await chmod(dir, 0o700);
    await chmod(join(dir, TMP), 0o700);
    return new FileBlobStore(dir);
  }

  async create(id: string): Promise<BlobWriter> {
    assertBlobId(id);
    // A random suffix keeps two writers of one id apart; "wx" (O_EXCL) never opens an existing file.
    const tmpPath = join(this.dir, TMP, `${id}.${randomBytes(8).toString("hex")}`);
    const { file, direct } = await createForWrite(RAW_FILE, tmpPath, 0o600);
    return new FileBlobWriter(file, tmpPath, join(this.dir, id), this.dir, direct);
  }

  /**
   * Streams a committed blob. Every chunk is a freshly allocated Uint8Array of
   * at most `chunkSize` bytes that the consumer owns and may keep; nothing is
   * reused. A missing blob makes the first iteration throw (code ENOENT).
   */
  async *read(id: string, chunkSize: number = DEFAULT_READ_CHUNK): AsyncIterable<Uint8Array> {
    assertBlobId(id);
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_READ_CHUNK) {
      throw new RangeError(`chunkSize must be an integer from 1 to ${MAX_READ_CHUNK}`);
    }
    const handle = await RawFile.open(join(this.dir, id), "r");
    try {
      for (;;) {
        const buffer = new Uint8Array(chunkSize);
        const bytesRead = await handle.read(buffer);
        if (bytesRead === 0) return;
        // A short read is copied out so a small tail does not pin a full-size buffer.
        yield bytesRead === chunkSize ? buffer : buffer.slice(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async open(id: string, from = 0): Promise<BlobReader> {
    assertBlobId(id);
    assertOffset(from);
    // Positioned reads (pread) from `from` on: no seek, and the same cost as reading from 0.
    return new FileBlobReader(await RawFile.open(join(this.dir, id), "r"), from);
  }

  /** Removes a committed blob; removing a missing one is not an error. */
  async remove(id: string): Promise<void> {
    assertBlobId(id);
    try {
      await unlink(join(this.dir, id));
    } catch (err) {
      if (!isMissing(err)) throw err;
      return;
    }
    await fsyncDir(this.dir);
  }

  /**
   * Start-up recovery, to run before any writer exists: empties tmp/ (returned
   * as "tmp/<name>") and removes committed blobs not in `keep` (returned as
   * their id). Files whose names are not blob ids are left alone: this store
   * did not make them.
   */
  async sweep(keep: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(join(this.dir, TMP))) {
      await unlinkQuietly(join(this.dir, TMP, name));
      removed.push(`${TMP}/${name}`);
    }
    for (const name of await readdir(this.dir)) {
      if (!BLOB_ID.test(name) || keep.has(name)) continue;
      await unlinkQuietly(join(this.dir, name));
      removed.push(name);
    }
    if (removed.length > 0) await fsyncDir(this.dir);
    return removed;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}
