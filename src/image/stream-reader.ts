/** Reads an image source that arrives in arbitrary chunks, handing out small exact reads and pass-through views. */
import { concat, StripError } from "./bytes.ts";

/**
 * A cursor over an async byte source. It holds only the source's current chunk (and at most a few
 * bytes pushed back), so memory stays flat whatever the image's size. Reads return fresh copies; the
 * views from `peek` and `pass` are only valid until the next call.
 */
export class ByteReader {
  /** Offset in the source of the next byte to be read. */
  offset = 0;
  /** Bytes at or past this offset read as the end of the input (a WebP chunk cannot reach past its RIFF). */
  limit = Number.POSITIVE_INFINITY;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private front: Uint8Array | null = null;
  private done = false;
  private readonly source: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** The next unread bytes (at least one), or null at the end; nothing is consumed. */
  async peek(): Promise<Uint8Array | null> {
    if (this.offset >= this.limit) return null;
    let view = this.front;
    if (!view) {
      while (this.at >= this.chunk.length) {
        if (this.done) return null;
        const next = await this.source.next();
        if (next.done) {
          this.done = true;
          return null;
        }
        if (!(next.value instanceof Uint8Array)) throw new StripError("image is not a byte array");
        [this.chunk, this.at] = [next.value, 0];
      }
      view = this.chunk.subarray(this.at);
    }
    const room = this.limit - this.offset;
    return view.length > room ? view.subarray(0, room) : view;
  }

  /** Moves past `n` bytes of what `peek` returned. */
  consume(n: number): void {
    this.offset += n;
    if (!this.front) this.at += n;
    else this.front = n < this.front.length ? this.front.subarray(n) : null;
  }

  /** Puts back bytes just read, to be read again first (a JPEG scan reads one byte into the next marker). */
  unread(bytes: Uint8Array): void {
    this.front = this.front ? concat([bytes, this.front]) : bytes;
    this.offset -= bytes.length;
  }

  /** A copy of the next `n` bytes (`n` small: a header or a segment, at most 64 KiB), shorter only at the end of the input. */
  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const view = await this.peek();
      if (!view) break;
      const take = Math.min(view.length, n - got);
      out.set(view.subarray(0, take), got);
      this.consume(take);
      got += take;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** A copy of the next `n` bytes; the input ending first is a StripError naming `what`. */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    const out = await this.read(n);
    if (out.length < n) throw new StripError(`${what}: truncated`);
    return out;
  }

  /** The next `n` bytes (any number) as views, in source-sized pieces; the input ending first is a StripError. */
  async *pass(n: number, what: string): AsyncGenerator<Uint8Array> {
    for (let left = n; left > 0; ) {
      const view = await this.peek();
      if (!view) throw new StripError(`${what}: truncated`);
      const piece = view.length > left ? view.subarray(0, left) : view;
      this.consume(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  /** Reads on, discarding, up to `limit`, and says whether the input reaches that far. */
  async reaches(limit: number): Promise<boolean> {
    this.limit = limit;
    for (let view = await this.peek(); view; view = await this.peek()) this.consume(view.length);
    return this.offset >= limit;
  }

  async atEnd(): Promise<boolean> {
    return (await this.peek()) === null;
  }

  /** Stops the source (closing a file it reads), whether or not it was read to the end. */
  async close(): Promise<void> {
    await this.source.return?.();
  }
}

/** Runs `walk` over a reader on `source`, closing the source however the walk ends. */
export async function* readWith(
  source: AsyncIterable<Uint8Array>,
  walk: (r: ByteReader) => AsyncGenerator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  try {
    yield* walk(reader);
  } finally {
    await reader.close();
  }
}
