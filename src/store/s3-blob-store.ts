/**
 * S3BlobStore: image ciphertexts as objects `<prefix><id>` in an S3-compatible bucket, through Bun.s3.
 *
 * The rules it keeps (docs/SCALING.md, "Blobs on S3"):
 *
 * S3-1  Committed means complete in the store: commit() resolves only after
 *       the object is complete under its key and S3 reports its full size.
 *       "Acknowledged means stored" also needs the image row committed; that
 *       is the caller's (handle-post.ts commits the row after the blob).
 * S3-2  Nothing half-stored is visible: a blob below one part is sent as one
 *       PUT at commit(); a larger one is a multipart upload (parts of at least
 *       5 MiB) that S3 shows under the key only once completed. A failed or
 *       aborted upload is never completed (s3-blob-writer.ts says why abort()
 *       does not call Bun's end(error)).
 * S3-3  Orphans (an object whose row never committed: a node died between
 *       the two commits, or the row's insert failed) are removed BY AGE ONLY:
 *       sweep() never removes an object younger than `minOrphanAgeMs`
 *       (default one hour), whatever the caller asks. Several nodes share
 *       the bucket, and an object that another node completed a moment ago
 *       has no row yet: a start-up sweep without an age would delete uploads
 *       that are about to be acknowledged. Run sweep on one node at a time
 *       (the caller takes the lock, e.g. a PostgreSQL advisory lock) with
 *       `keep` read before the listing, as `sweep(ids, readAt - age)`.
 *       The age is measured against the store's LastModified, so the cut-off
 *       must exceed the clock skew between the nodes and the store.
 * S3-4  Reads are range reads (GET with Range) of at most READ_WINDOW bytes
 *       at a time, so a download holds a bounded buffer; a missing object
 *       rejects with code ENOENT like FileBlobStore. open(id, from) starts
 *       the first range at `from` (a ranged DOWNLOAD, PROTOCOL.md P23a):
 *       nothing before it is fetched.
 */
import { S3Client } from "bun";
import type { BlobReader, BlobStore, BlobWriter, Millis } from "../server/ports.ts";
import { DEFAULT_READ_CHUNK, MAX_READ_CHUNK, assertBlobId, assertOffset } from "./file-blob-store.ts";
import { MIN_PART_SIZE, S3BlobWriter } from "./s3-blob-writer.ts";

const BLOB_ID = /^[0-9a-f]{32}$/;
/** How much one range GET fetches ahead of a reader (more if the reader's buffer is larger). */
export const READ_WINDOW = 4 * 1024 * 1024;
export const DEFAULT_MIN_ORPHAN_AGE_MS = 60 * 60 * 1000;

export interface S3BlobStoreOptions {
  /** e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** Key prefix of every blob; default "blobs/". */
  prefix?: string;
  /** Multipart part size, at least 5 MiB (S3's minimum); default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once per upload; default 2. */
  queueSize?: number;
  /** Retries of one failed request; default 3. */
  retry?: number;
  /** sweep() never removes an object younger than this (S3-3); default one hour. */
  minOrphanAgeMs?: number;
}

/** A failure of the object store, worded for the operator; `code` is ENOENT for a missing blob. */
export class ObjectStoreError extends Error {
  override readonly name = "ObjectStoreError";
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function s3Code(err: unknown): string {
  return String((err as { code?: unknown } | null)?.code ?? "");
}

export class S3BlobStore implements BlobStore {
  readonly prefix: string;
  readonly partSize: number;
  readonly minOrphanAgeMs: number;
  readonly #client: S3Client;
  readonly #where: string;

  constructor(private readonly o: S3BlobStoreOptions) {
    this.prefix = o.prefix ?? "blobs/";
    this.partSize = o.partSize ?? 8 * 1024 * 1024;
    this.minOrphanAgeMs = o.minOrphanAgeMs ?? DEFAULT_MIN_ORPHAN_AGE_MS;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be an integer of at least ${MIN_PART_SIZE} bytes (S3's minimum part)`);
    if (!Number.isFinite(this.minOrphanAgeMs) || this.minOrphanAgeMs < 0) throw new RangeError("minOrphanAgeMs must be 0 or more");
    this.#where = `bucket ${o.bucket} at ${o.endpoint}`;
    this.#client = new S3Client({
      endpoint: o.endpoint, bucket: o.bucket, accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey,
      region: o.region ?? "us-east-1",
    });
  }

  /** Turns an S3 or network failure into "sis: cannot …: reason" with what to do next. */
  fail(action: string, err: unknown): ObjectStoreError {
    if (err instanceof ObjectStoreError) return err;
    const code = s3Code(err);
    const reason = err instanceof Error ? err.message : String(err);
    if (code === "NoSuchKey" || code === "ENOENT") return new ObjectStoreError(`sis: cannot ${action}: no such blob in ${this.#where}`, "ENOENT", { cause: err });
    const next = /exists already/.test(reason) ? "" : "; check that the object store is running and reachable, and its credentials";
    return new ObjectStoreError(`sis: cannot ${action} (${this.#where}): ${reason}${next}`, code || "EOBJECTSTORE", { cause: err });
  }

  #key(id: string): string {
    assertBlobId(id);
    return `${this.prefix}${id}`;
  }

  async create(id: string): Promise<BlobWriter> {
    const key = this.#key(id);
    return new S3BlobWriter({
      client: this.#client, key, id, partSize: this.partSize, queueSize: this.o.queueSize ?? 2, retry: this.o.retry ?? 3,
      fail: (action, err) => this.fail(action, err),
    });
  }

  /** Fresh chunks of exactly `chunkSize` bytes (the last one shorter), read by range. */
  async *read(id: string, chunkSize: number = DEFAULT_READ_CHUNK): AsyncIterable<Uint8Array> {
    assertBlobId(id);
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_READ_CHUNK) {
      throw new RangeError(`chunkSize must be an integer from 1 to ${MAX_READ_CHUNK}`);
    }
    const reader = await this.open(id);
    try {
      for (;;) {
        const buffer = new Uint8Array(chunkSize);
        const n = await reader.readInto(buffer);
        if (n === 0) return;
        yield n === chunkSize ? buffer : buffer.slice(0, n);
      }
    } finally {
      await reader.close();
    }
  }

  async open(id: string, from = 0): Promise<BlobReader> {
    const key = this.#key(id);
    assertOffset(from);
    let size: number;
    try {
      size = (await this.#client.stat(key)).size;
    } catch (err) {
      throw this.fail(`read blob ${id}`, err);
    }
    const file = this.#client.file(key);
    const fail = (err: unknown) => this.fail(`read blob ${id}`, err);
    // S3-4 from `from` on: the first range GET starts there (a ranged DOWNLOAD, P23a).
    let position = Math.min(from, size);
    let window = new Uint8Array(0);
    let windowAt = 0;
    let closed = false;
    return {
      async readInto(target) {
        if (closed) throw new Error("cannot read: the blob reader is closed");
        let filled = 0;
        while (filled < target.byteLength && position < size) {
          if (windowAt >= window.byteLength) {
            const want = Math.min(size - position, Math.max(READ_WINDOW, target.byteLength - filled));
            try {
              window = new Uint8Array(await file.slice(position, position + want).arrayBuffer());
            } catch (err) {
              throw fail(err);
            }
            windowAt = 0;
            if (window.byteLength === 0) throw fail(new Error(`the object ended at ${position} of ${size} bytes`));
          }
          const n = Math.min(window.byteLength - windowAt, target.byteLength - filled);
          target.set(window.subarray(windowAt, windowAt + n), filled);
          windowAt += n;
          filled += n;
          position += n;
        }
        return filled;
      },
      async close() {
        closed = true;
        window = new Uint8Array(0);
      },
    };
  }

  /** Removes a committed blob; a missing one is not an error (S3's DELETE succeeds for it). */
  async remove(id: string): Promise<void> {
    const key = this.#key(id);
    try {
      await this.#client.delete(key);
    } catch (err) {
      if (s3Code(err) === "NoSuchKey") return;
      throw this.fail(`remove blob ${id}`, err);
    }
  }

  /**
   * Removes blobs whose id is not in `keep` and whose LastModified is before
   * `olderThan` and at least minOrphanAgeMs ago (S3-3); returns their ids.
   * Keys under the prefix that are not blob ids are left alone.
   */
  async sweep(keep: Set<string>, olderThan?: Millis): Promise<string[]> {
    const cutoff = Math.min(olderThan ?? Number.POSITIVE_INFINITY, Date.now() - this.minOrphanAgeMs);
    const removed: string[] = [];
    let continuationToken: string | undefined;
    try {
      do {
        const page = await this.#client.list({ prefix: this.prefix, ...(continuationToken ? { continuationToken } : {}) });
        for (const entry of page.contents ?? []) {
          const id = entry.key.slice(this.prefix.length);
          if (!entry.key.startsWith(this.prefix) || !BLOB_ID.test(id) || keep.has(id)) continue;
          const modified = entry.lastModified ? Date.parse(entry.lastModified) : Number.NaN;
          if (!(modified < cutoff)) continue; // an unknown age counts as young
          await this.#client.delete(entry.key);
          removed.push(id);
        }
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (continuationToken);
    } catch (err) {
      throw this.fail("sweep orphan blobs", err);
    }
    return removed;
  }
}
