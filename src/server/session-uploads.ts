/** A session's upload state: the version-1 upload under way or the version-2 pipeline, and the buffers their data payloads are decoded into. */
import { DATA, type Frame } from "../protocol/index.ts";
import { PayloadPool } from "./payload-pool.ts";
import type { PostPipeline } from "./post-pipeline.ts";
import type { Upload } from "./peer.ts";

/** Held by the session alone (docs/ARCHITECTURE.md): handlers reach it only through the Peer's begin/end upload. */
export class SessionUploads {
  /** Version 2 (P30): the uploads in flight; created at a HELLO that agrees on version 2. */
  pipeline: PostPipeline | null = null;
  /** Buffers for the data payloads of the upload under way (given back once the upload has written each). */
  readonly payloads = new PayloadPool();
  private upload: Upload | null = null;

  /** Data is streaming into an upload: the decoder copies DATA payloads into `payloads`. */
  get streaming(): boolean {
    return !!(this.upload || this.pipeline?.streamingNow);
  }

  /** An upload is under way (its DATA frames are still coming, or it is being committed). */
  get uploading(): boolean {
    return this.upload !== null || (this.pipeline?.size ?? 0) > 0;
  }

  begin(upload: Upload): void {
    this.upload = upload;
  }

  end(): void {
    this.upload = null;
    this.payloads.clear();
  }

  /** `frame` belongs to an upload (receive() takes it), not to the request handlers. */
  takes(frame: Frame): boolean {
    return this.upload !== null || (frame.kind === DATA && this.pipeline !== null);
  }

  /** Hands a frame that takes() accepted to its upload; `touch` moves the idle deadline. */
  async receive(frame: Frame, touch: () => void): Promise<void> {
    if (this.upload) {
      touch();
      const upload = this.upload;
      await upload.receive(frame);
      // The blob writer has written or copied the payload (BlobWriter.write keeps no
      // chunk), so the decoder may fill its buffer again; an upload that ended with
      // this frame already freed the pool (endUpload).
      if (frame.kind === DATA && this.upload === upload) this.payloads.give(frame.payload);
      return;
    }
    // Version 2 (P32): the data of the oldest upload still missing bytes.
    await this.pipeline!.data(frame);
    touch();
    this.payloads.give(frame.payload);
  }

  /** The last pipelined upload has been answered: as end() does for version 1, an idle session holds no payload buffers. */
  idle(): void {
    if (!this.pipeline?.streamingNow) this.payloads.clear();
  }

  /** The session is gone: every upload under way is aborted, the buffers freed. */
  release(): void {
    const upload = this.upload;
    this.upload = null;
    void upload?.abort();
    void this.pipeline?.abortAll();
    this.payloads.clear();
  }
}
