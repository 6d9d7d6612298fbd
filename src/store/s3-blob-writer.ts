/** S3BlobWriter: one upload to an S3 object, in parts of at least 5 MiB, that becomes visible only when commit() completes it. */
import type { NetworkSink, S3Client } from "bun";
import type { BlobWriter } from "../server/ports.ts";

/** S3's smallest part (every part but the last); smaller parts make CompleteMultipartUpload fail with EntityTooSmall. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3WriterOptions {
  client: S3Client;
  key: string;
  id: string;
  partSize: number;
  queueSize: number;
  retry: number;
  /** Wraps a failure into the store's "sis: cannot …" error. */
  fail(action: string, err: unknown): Error;
}

type State = "open" | "committing" | "committed" | "aborted" | "failed";

/**
 * Bytes are gathered into part-sized buffers (a fresh one per part, so a
 * caller's chunk is never retained). A blob smaller than one part never
 * touches the store before commit(), which sends it as one PUT. A larger one
 * goes to Bun's multipart writer part by part; S3 shows nothing under the key
 * until CompleteMultipartUpload, which only commit() triggers (sink.end()).
 *
 * abort() never calls sink.end(): Bun 1.4.4's `end(error)` completes the
 * upload with the bytes so far instead of aborting it (measured against
 * s3rver; test/store/s3-blob-store.test.ts keeps the check), which would
 * publish a truncated object or overwrite a committed one. The abandoned
 * multipart upload stays invisible; the bucket's lifecycle rule
 * AbortIncompleteMultipartUpload frees its parts (docs/SCALING.md).
 */
export class S3BlobWriter implements BlobWriter {
  #state: State = "open";
  #busy = false;
  #part: Uint8Array | null = null;
  #filled = 0;
  #sink: NetworkSink | null = null;
  #written = 0;
  /** The failure that ended the upload: later calls report it again. */
  #error: Error | null = null;

  constructor(private readonly o: S3WriterOptions) {}

  get bytesWritten(): number {
    return this.#written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#enter("write");
    try {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const part = (this.#part ??= new Uint8Array(this.o.partSize));
        const n = Math.min(part.byteLength - this.#filled, chunk.byteLength - offset);
        part.set(chunk.subarray(offset, offset + n), this.#filled);
        this.#filled += n;
        offset += n;
        if (this.#filled === part.byteLength) await this.#sendPart();
      }
      this.#written += chunk.byteLength;
    } catch (err) {
      throw this.#failed(err);
    } finally {
      this.#busy = false;
    }
  }

  /** Completes the object; resolves once S3 holds all of it under its key (checked by its size). */
  async commit(): Promise<void> {
    this.#enter("commit");
    this.#state = "committing";
    try {
      // Ids are 128 random bits made by the server, so two writers of one id
      // mean a bug: refuse to overwrite. Plain S3 has no atomic "create only"
      // for a multipart upload, so a race between this check and the
      // completion could still overwrite; the random id is what prevents it.
      if (await this.o.client.exists(this.o.key)) throw new Error(`blob ${this.o.id} exists already`);
      const tail = this.#part ? this.#part.subarray(0, this.#filled) : new Uint8Array(0);
      if (this.#sink) {
        if (tail.byteLength > 0) await this.#sink.write(tail);
        await this.#sink.end();
      } else {
        await this.o.client.write(this.o.key, tail);
      }
      this.#part = null;
      const stored = await this.o.client.size(this.o.key);
      if (stored !== this.#written) throw new Error(`the store holds ${stored} bytes of ${this.#written}`);
      this.#state = "committed";
    } catch (err) {
      throw this.#failed(err);
    } finally {
      this.#busy = false;
    }
  }

  /** Drops the upload (see the class comment); a committed object stays. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.#state === "committed") return;
    this.#state = "aborted";
    this.#sink = null;
    this.#part = null;
  }

  #failed(err: unknown): Error {
    this.#state = "failed";
    this.#sink = null;
    this.#part = null;
    return (this.#error = this.o.fail(`store blob ${this.o.id}`, err));
  }

  #enter(what: string): void {
    if (this.#state === "failed" && this.#error) throw this.#error;
    if (this.#state !== "open") throw new Error(`cannot ${what}: the blob writer is ${this.#state}`);
    if (this.#busy) throw new Error(`cannot ${what}: another write is in progress`);
    this.#busy = true;
  }

  async #sendPart(): Promise<void> {
    this.#sink ??= this.o.client.file(this.o.key).writer({ partSize: this.o.partSize, queueSize: this.o.queueSize, retry: this.o.retry });
    const full = this.#part!;
    this.#part = null;
    this.#filled = 0;
    await this.#sink.write(full);
  }
}
