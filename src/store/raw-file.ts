/** RawFile: a numeric file descriptor with promise methods, closed by the GC if its owner forgets. */
import { close, closeSync, fdatasync, fsync, ftruncate, open, read, readSync, write } from "node:fs";
import type { Opener } from "../runtime/direct-write.ts";
import { promisify } from "node:util";

const openAsync = promisify(open);
const readAsync = promisify(read);
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);
const closeAsync = promisify(close);
const ftruncateAsync = promisify(ftruncate);

/**
 * Why not node:fs/promises FileHandle: under Bun a FileHandle that is garbage
 * collected unclosed throws an uncaught error and kills the process. A writer
 * or read stream abandoned by a dropped connection must not take the server
 * down, so a leaked descriptor is closed quietly here instead.
 */
const leaks = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already gone; nothing else to do from a finalizer.
  }
});

export class RawFile {
  #fd: number | null;

  private constructor(fd: number) {
    this.#fd = fd;
    leaks.register(this, fd, this);
  }

  /** `flags` as node:fs takes them: a string ("wx") or open(2)'s numeric flags. */
  static async open(path: string, flags: string | number, mode?: number): Promise<RawFile> {
    return new RawFile(await openAsync(path, flags, mode));
  }

  #live(): number {
    if (this.#fd === null) throw new Error("file is closed");
    return this.#fd;
  }

  /** Reads into `buffer` at `position` (null: the current position, which moves); 0 at end of file. */
  async read(buffer: Uint8Array, position: number | null = null): Promise<number> {
    const { bytesRead } = await readAsync(this.#live(), buffer, 0, buffer.byteLength, position);
    return bytesRead;
  }

  /** read(), made on the calling thread: for data that is most likely in the page cache (src/store/file-blob-reader.ts). */
  readSync(buffer: Uint8Array, position: number): number {
    return readSync(this.#live(), buffer, 0, buffer.byteLength, position);
  }

  /** Writes all of `data` at `position`, looping over short writes. */
  async writeAt(data: Uint8Array, position: number): Promise<void> {
    for (let offset = 0; offset < data.byteLength; ) {
      const { bytesWritten } = await writeAsync(this.#live(), data, offset, data.byteLength - offset, position + offset);
      if (bytesWritten <= 0) throw new Error("the disk took no bytes");
      offset += bytesWritten;
    }
  }

  async truncate(length: number): Promise<void> {
    await ftruncateAsync(this.#live(), length);
  }

  async sync(): Promise<void> {
    await fsyncAsync(this.#live());
  }

  /** fdatasync: the data (and the size), not every piece of metadata. */
  async datasync(): Promise<void> {
    await fdatasyncAsync(this.#live());
  }

  /** Closes once; later calls do nothing. */
  async close(): Promise<void> {
    const fd = this.#fd;
    if (fd === null) return;
    this.#fd = null;
    leaks.unregister(this);
    await closeAsync(fd);
  }
}

/** createForWrite (src/runtime/direct-write.ts) for a RawFile. */
export const RAW_FILE: Opener<RawFile> = {
  open: (path, flags, mode) => RawFile.open(path, flags, mode),
  writeAt: (file, bytes, position) => file.writeAt(bytes, position),
  truncate: (file, length) => file.truncate(length),
  close: (file) => file.close(),
};
