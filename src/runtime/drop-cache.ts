/**
 * Drops a file's pages from the page cache once they are on disk (posix_fadvise DONTNEED), for a
 * file this process wrote and will not read again: a watch that saves images for years would
 * otherwise fill the cache with them, and each image's pages are fresh memory the kernel must
 * find, where pages just given back are reused at once (bench/README.md, "Issue 17 on a third
 * machine"). Best effort: without libc's posix_fadvise (another libc, no FFI) it does nothing.
 */
import { dlopen, FFIType } from "bun:ffi";

const POSIX_FADV_DONTNEED = 4;

type Fadvise = (fd: number, offset: number, length: number, advice: number) => number;

let fadvise: Fadvise | null | undefined;

function load(): Fadvise | null {
  try {
    const libc = dlopen("libc.so.6", { posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 } });
    return libc.symbols.posix_fadvise as unknown as Fadvise;
  } catch {
    return null;
  }
}

/** After the file's fsync: its clean pages leave the cache (the data stays on disk). Returns whether the advice was taken. */
export function dropCache(fd: number): boolean {
  if (fadvise === undefined) fadvise = load();
  return fadvise !== null && fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) === 0;
}
