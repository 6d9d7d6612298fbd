/**
 * The uploads of one version-2 connection (PROTOCOL.md P30–P37): several in flight, their data
 * frames one upload after another, each committed once its data is durable and its signature,
 * sent after the data, has been checked.
 */
import { aboutUpload, DATA, MAX_UPLOADS_IN_FLIGHT, ProtocolError, type Frame } from "../protocol/index.ts";

/** One upload between its UPLOAD_READY and its POSTED or ERROR. */
export interface PipelinedUpload {
  readonly id: number;
  /** Ciphertext bytes still to come. */
  remaining: number;
  /** Appends one data payload (not retained once it resolves). */
  write(payload: Uint8Array): Promise<void>;
  /** The last byte came: fsync and rename the blob; runs beside the next upload's data. */
  seal(): Promise<void>;
  /** Data and signature are both in: check, commit and answer; rejects with what to tell the client. */
  complete(signature: Uint8Array): Promise<void>;
  /** Gives up: releases the slot, removes the blob. Safe more than once. */
  abort(): Promise<void>;
}

/**
 * Data frames belong to the oldest upload whose bytes are not all in (P32), so uploads
 * stream one after the other and a frame never needs an id. Commits run off the frame
 * chain, one at a time in UPLOAD_READY order, so the next upload's data is written while
 * the previous one is made durable, and POSTED comes in the order the uploads were
 * announced.
 */
export class PostPipeline {
  private readonly uploads = new Map<number, PipelinedUpload>();
  private readonly streaming: PipelinedUpload[] = [];
  private readonly signed = new Set<number>();
  private commits: Promise<void> = Promise.resolve();
  /** Unix ms of the last progress a client owes: a data frame, a signature, a new upload (P36). */
  progressAt = 0;

  constructor(
    /** Reports a refusal of an upload (ERROR with its id) or of the connection. */
    private readonly fail: (error: unknown) => void,
    /** Called when the last upload in flight has ended (the session may be draining, O1). */
    private readonly idle: () => void,
  ) {}

  /** Uploads in flight: announced and not yet answered with POSTED or ERROR. */
  get size(): number {
    return this.uploads.size;
  }

  /** Some upload still waits for data frames or for its signature: the client owes progress (P36). */
  get awaitingClient(): boolean {
    return this.streaming.length > 0 || this.uploads.size > this.signed.size;
  }

  /** A data frame now would be taken (the payload pool is worth using). */
  get streamingNow(): boolean {
    return this.streaming.length > 0;
  }

  /** Before a POST_IMAGE is checked: its id is free and the window has room (P31). */
  admit(id: number): void {
    if (this.uploads.has(id)) throw new ProtocolError("UNKNOWN_UPLOAD", `upload ${id} is already in flight on this connection; use a new id`);
    if (this.uploads.size >= MAX_UPLOADS_IN_FLIGHT) {
      throw new ProtocolError("TOO_MANY_UPLOADS", `at most ${MAX_UPLOADS_IN_FLIGHT} uploads may be in flight on one connection; wait for POSTED`);
    }
  }

  /** The upload passed its checks; its UPLOAD_READY goes out now. */
  add(upload: PipelinedUpload): void {
    this.admit(upload.id); // again: another POST_IMAGE may have passed while this one awaited the store
    this.uploads.set(upload.id, upload);
    this.streaming.push(upload);
    this.progressAt = Date.now();
  }

  /** A data frame: the current upload's next bytes (P32). */
  async data(frame: Frame): Promise<void> {
    const upload = this.streaming[0];
    if (!upload || frame.kind !== DATA) throw new ProtocolError("BAD_UPLOAD", "unexpected data frame: no upload is waiting for data");
    if (frame.payload.length > upload.remaining) {
      await this.drop(upload);
      throw new ProtocolError("BAD_UPLOAD", `more image bytes than declared for upload ${upload.id}`);
    }
    this.progressAt = Date.now();
    upload.remaining -= frame.payload.length;
    try {
      await upload.write(frame.payload);
    } catch (error) {
      await this.drop(upload);
      throw error;
    }
    if (upload.remaining > 0) return;
    this.streaming.shift();
    void upload.seal().catch(() => {}); // its failure is reported by complete(), which awaits it
  }

  /** POST_SIGNATURE (P33): after the upload's last data frame, exactly once. */
  signature(id: number, signature: Uint8Array): void {
    const upload = this.uploads.get(id);
    if (!upload) throw new ProtocolError("UNKNOWN_UPLOAD", `no upload ${id} is in flight on this connection`);
    if (this.signed.has(id)) throw new ProtocolError("BAD_UPLOAD", `upload ${id} already has its signature`);
    if (upload.remaining > 0) throw new ProtocolError("BAD_UPLOAD", `the signature of upload ${id} came before its last data frame (${upload.remaining} bytes missing)`);
    this.signed.add(id);
    this.progressAt = Date.now();
    // One commit at a time, in order; the next upload's data is meanwhile written on the frame chain.
    this.commits = this.commits.then(async () => {
      try {
        await upload.complete(signature);
      } catch (error) {
        await upload.abort();
        this.fail(aboutUpload(error, id));
      } finally {
        this.forget(id);
      }
    });
  }

  /** The connection is gone: every upload in flight is aborted (nothing of them is kept, P21). */
  async abortAll(): Promise<void> {
    const all = [...this.uploads.values()];
    this.streaming.length = 0;
    await Promise.all(all.map((u) => u.abort()));
  }

  private async drop(upload: PipelinedUpload): Promise<void> {
    const at = this.streaming.indexOf(upload);
    if (at >= 0) this.streaming.splice(at, 1);
    await upload.abort();
    this.forget(upload.id);
  }

  private forget(id: number): void {
    this.uploads.delete(id);
    this.signed.delete(id);
    if (this.uploads.size === 0) this.idle();
  }
}
