/**
 * The interfaces the server needs from storage and notification. The server
 * declares them; src/store implements them; only `sis serve` start-up wires
 * concrete parts. A second backend (PostgreSQL, Redis) implements these and
 * nothing in the protocol code changes.
 */

/** Unix milliseconds everywhere. */
export type Millis = number;

export interface UserRecord {
  id: number;
  username: string;
  /** Argon2id PHC string from Bun.password.hash. */
  passwordHash: string;
  createdAt: Millis;
}

export interface CertRecord {
  /** Normalised serial: lower-case hex, no leading zero bytes, no colons. */
  serial: string;
  userId: number;
  username: string;
  /** Exact DER bytes as issued. */
  der: Uint8Array;
  notBefore: Millis;
  notAfter: Millis;
  revokedAt: Millis | null;
  createdAt: Millis;
}

export interface NewCert {
  serial: string;
  userId: number;
  der: Uint8Array;
  notBefore: Millis;
  notAfter: Millis;
}

export interface ImageRecord {
  /** Monotonic sequence number: the order images were stored in; catch-up cursor. */
  seq: number;
  /** Server-made random id (32 lower-case hex chars); the only thing a blob path is made of. */
  id: string;
  owner: string;
  name: string;
  contentType: string;
  /** Plaintext size in bytes. */
  size: number;
  /** Ciphertext size in bytes (what the blob file holds). */
  cipherSize: number;
  /** Envelope header bytes (ENVELOPE.md). */
  header: Uint8Array;
  /** Detached CMS SignedData, DER. */
  signature: Uint8Array;
  /** AES key wrapped for the server's storage certificate (RSA-OAEP-SHA256). */
  wrappedKey: Uint8Array;
  /** Serial of the owner's certificate that signed it. */
  signerSerial: string;
  createdAt: Millis;
}

export type NewImage = Omit<ImageRecord, "seq" | "createdAt"> & { ownerId: number; createdAt?: Millis };

export interface ImageQuery {
  /** Images with seq < before, newest first (paging backwards). */
  before?: number;
  /** Images with seq > after, oldest first (catch-up). */
  after?: number;
  limit: number;
}

export interface UserStore {
  findUser(username: string): UserRecord | null;
  /** Throws StoreConflictError if the username exists. */
  createUser(username: string, passwordHash: string): UserRecord;
  deleteUser(username: string): boolean;
}

export interface CertStore {
  addCert(cert: NewCert): CertRecord;
  findCert(serial: string): CertRecord | null;
  listCerts(username?: string): CertRecord[];
  /** Marks one certificate revoked; false if unknown or already revoked. */
  revokeSerial(serial: string, at: Millis): boolean;
  /** Revokes every unrevoked certificate of a user; returns how many. */
  revokeUser(username: string, at: Millis): number;
  /** Every revoked certificate, for the CRL. */
  listRevoked(): { serial: string; revokedAt: Millis }[];
  /** Changes whenever a revocation is recorded (by any process): the CRL cache key. */
  revocationVersion(): number;
}

export interface ImageStore {
  imageNameTaken(ownerId: number, name: string): boolean;
  /** Durable when it returns. Throws StoreConflictError if (owner, name) exists. */
  insertImage(image: NewImage): ImageRecord;
  findImage(id: string): ImageRecord | null;
  findImageByName(owner: string, name: string): ImageRecord | null;
  listImages(query: ImageQuery): ImageRecord[];
  /** Every stored image id, for start-up recovery of the blob directory. */
  allImageIds(): Set<string>;
}

export interface Store extends UserStore, CertStore, ImageStore {
  close(): void;
}

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
  /** Opens a committed blob for readInto(); a missing one rejects (code ENOENT). */
  open(id: string): Promise<BlobReader>;
  remove(id: string): Promise<void>;
  /** Deletes temporary files and blobs whose id is not in `keep`; returns what it removed. */
  sweep(keep: Set<string>): Promise<string[]>;
}

export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
}

/** What the server publishes when an image is stored. */
export interface ImageEvent {
  seq: number;
  id: string;
  owner: string;
  name: string;
  size: number;
  contentType: string;
  createdAt: Millis;
}

export interface Notifier {
  subscribe(listener: (event: ImageEvent) => void): () => void;
  publish(event: ImageEvent): void;
}
