/** Reads a file as a stream of bounded chunks, never the whole file at once. */
import { open } from "node:fs/promises";

export const READ_CHUNK = 1024 * 1024;

/** Each chunk is a fresh buffer: the consumer may keep it as long as it likes. */
export async function* readChunks(path: string, chunkSize = READ_CHUNK): AsyncGenerator<Uint8Array> {
  const handle = await open(path, "r");
  try {
    for (;;) {
      const buffer = new Uint8Array(chunkSize);
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null);
      if (bytesRead === 0) return;
      yield bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Reads a file through two buffers, reused for its whole length, reading the
 * next chunk while the consumer works on the current one. A yielded chunk is
 * valid only until the consumer asks for the next one, which is when its
 * buffer is refilled: for consumers that finish with each chunk (hash it,
 * encrypt it, copy what they keep) before they pull again. No garbage per read,
 * whatever the file's size.
 */
export async function* readChunksReusing(path: string, chunkSize = READ_CHUNK): AsyncGenerator<Uint8Array> {
  const handle = await open(path, "r");
  const buffers = [new Uint8Array(chunkSize), new Uint8Array(chunkSize)];
  let position = 0;
  let which = 0;
  // A read that fails while nobody awaits it yet must not count as an unhandled rejection:
  // it is marked handled here and still throws where it is awaited.
  const start = (into: Uint8Array) => {
    const read = handle.read(into, 0, chunkSize, position);
    read.catch(() => {});
    return read;
  };
  let reading = start(buffers[0]!);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) return;
      position += bytesRead;
      const current = buffers[which]!;
      which ^= 1;
      // The other buffer held the chunk before this one; the consumer let go of it by asking for this one.
      reading = start(buffers[which]!);
      yield bytesRead === chunkSize ? current : current.subarray(0, bytesRead);
    }
  } finally {
    await reading.catch(() => {}); // never close the file under a read in flight
    await handle.close();
  }
}

export async function readHead(path: string, n: number): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const buffer = new Uint8Array(n);
    const { bytesRead } = await handle.read(buffer, 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Bytes a windowed reader fetches at once: a PNG's chunk headers of a few MiB come in one read. */
const WINDOW = 64 * 1024;

/**
 * Positioned reads of a file through one window of WINDOW bytes, for walks that read small
 * headers here and there (src/image's plans): a header inside the last window costs no read.
 * `close` must be called however the walk ends.
 */
export interface WindowedReader {
  readAt(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function windowedReader(path: string): Promise<WindowedReader> {
  const handle = await open(path, "r");
  let window = new Uint8Array(0);
  let start = 0;
  return {
    async readAt(position, length) {
      if (position >= start && position + length <= start + window.length) return window.slice(position - start, position - start + length);
      const buffer = new Uint8Array(Math.max(WINDOW, length));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      window = buffer.subarray(0, bytesRead);
      start = position;
      return window.slice(0, Math.min(length, bytesRead));
    },
    close: () => handle.close(),
  };
}
