/** The blob store port: encrypted image bodies, written once, read in bounded chunks (src/server/ports.ts has the rules). */
import type { Millis } from "./records.ts";

export interface BlobWriter {
  /** Appends `chunk`; it is not retained once the promise resolves (handle-post.ts reuses it). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes, fsyncs the file, renames it into place and fsyncs the directory. */
  commit(): Promise<void>;
  /** Removes the temporary file. Safe to call more than once and after commit failed. */
  abort(): Promise<void>;
  readonly bytesWritten: number;
}

/** Sequential reads of one committed blob into buffers the caller owns. */
export interface BlobReader {
  /**
   * Fills `target` from the current position; fewer bytes only at the end of
   * the blob (0 there). No reference to `target` is kept once it settles, so
   * the caller may reuse the buffer. Calls must not overlap.
   */
  readInto(target: Uint8Array): Promise<number>;
  /** Closes once; later calls do nothing. */
  close(): Promise<void>;
}

export interface BlobStore {
  /** id must match /^[0-9a-f]{32}$/; the store refuses anything else. */
  create(id: string): Promise<BlobWriter>;
  /** Streams a committed blob in bounded chunks. */
  read(id: string, chunkSize?: number): AsyncIterable<Uint8Array>;
  /**
   * Opens a committed blob for readInto() at byte `from` (default 0: a ranged DOWNLOAD, P23a,
   * starts later); a missing one rejects (code ENOENT). A `from` at or past the end reads 0.
   */
  open(id: string, from?: number): Promise<BlobReader>;
  remove(id: string): Promise<void>;
  /**
   * Deletes temporary files and blobs whose id is not in `keep`; returns what
   * it removed. `olderThan` (Unix ms) spares anything modified at or after it:
   * a store shared by several nodes removes orphans by age only (S3-3 in
   * src/store/s3-blob-store.ts); FileBlobStore, one node's start-up recovery,
   * ignores it.
   */
  sweep(keep: Set<string>, olderThan?: Millis): Promise<string[]>;
}
