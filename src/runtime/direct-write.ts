/**
 * Files written around the page cache (O_DIRECT), for a file written once whose pages are not
 * needed right after (a blob's first download reads it from disk). A buffered write copies every byte into new page-cache pages, and on a virtual
 * machine whose host takes back memory the guest freed, those pages are the dear part: 0.7–1.3 ms
 * of system time per 3 MiB file against 0.2 ms written direct (bench/README.md, "Issue 17 on a
 * fourth machine"). Durability is unchanged: the data is on disk only after the fsync, as before.
 * A file system without O_DIRECT (tmpfs, some FUSE) gets ordinary buffered writes.
 */
import { ptr } from "bun:ffi";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** Buffer addresses, file positions and lengths of direct writes are multiples of this. */
export const DIRECT_ALIGN = 4096;

/** `size` bytes (a multiple of DIRECT_ALIGN) starting at an address that is a multiple of DIRECT_ALIGN. */
export function alignedBuffer(size: number): Uint8Array {
  const raw = new Uint8Array(size + DIRECT_ALIGN);
  const skew = Number(ptr(raw)) % DIRECT_ALIGN;
  const offset = skew === 0 ? 0 : DIRECT_ALIGN - skew;
  return raw.subarray(offset, offset + size);
}

/** `n` rounded up to a multiple of DIRECT_ALIGN. */
export function alignUp(n: number): number {
  return Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;
}

/** What createForWrite needs of a file kind (node:fs/promises' FileHandle, src/store/raw-file.ts' RawFile). */
export interface Opener<F> {
  /** Opens `path` with numeric open(2) `flags` and `mode`. */
  open(path: string, flags: number, mode: number): Promise<F>;
  /** Writes all of `bytes` at `position`. */
  writeAt(file: F, bytes: Uint8Array, position: number): Promise<unknown>;
  truncate(file: F, length: number): Promise<void>;
  close(file: F): Promise<void>;
}

/**
 * Creates `path` (it must not exist) for writing: direct (`direct` true: writes aligned to
 * DIRECT_ALIGN, the file truncated to its length at the end) if its file system takes an aligned
 * direct write, tried once here with DIRECT_ALIGN zero bytes that the caller's data overwrites;
 * else buffered.
 */
export async function createForWrite<F>(how: Opener<F>, path: string, mode: number): Promise<{ file: F; direct: boolean }> {
  const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = constants;
  let file: F;
  try {
    file = await how.open(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
    return { file: await how.open(path, O_WRONLY | O_CREAT | O_EXCL, mode), direct: false };
  }
  try {
    await how.writeAt(file, alignedBuffer(DIRECT_ALIGN), 0);
    return { file, direct: true };
  } catch (error) {
    await how.close(file).catch(() => {});
    if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
  }
  // The file exists now (holding the probe's block at most): reopened without O_DIRECT, emptied.
  const buffered = await how.open(path, O_WRONLY, mode);
  await how.truncate(buffered, 0);
  return { file: buffered, direct: false };
}

/** createForWrite for a node:fs/promises FileHandle. */
export const FILE_HANDLE: Opener<FileHandle> = {
  open: (path, flags, mode) => open(path, flags, mode),
  writeAt: async (file, bytes, position) => {
    for (let at = 0; at < bytes.length; ) {
      const { bytesWritten } = await file.write(bytes, at, bytes.length - at, position + at);
      if (bytesWritten <= 0) throw new Error("the disk took no bytes");
      at += bytesWritten;
    }
  },
  truncate: (file, length) => file.truncate(length),
  close: (file) => file.close(),
};
