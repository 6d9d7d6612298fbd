/**
 * One cut-through delivery on the watcher's side (PROTOCOL.md P41–P47): its ciphertext is
 * decrypted into a hidden partial file as it comes. A delivery the server dropped BEHIND (P45)
 * stops taking push data but keeps what it decrypted, its digest and its file: on version 4 the
 * catch-up continues the same decryption with a ranged DOWNLOAD (resume-delivery.ts, P23a).
 */
import { CHUNK_SIZE, createImageDigest, openStreamInto } from "../crypto/index.ts";
import { SNIFF_BYTES } from "../image/sniff.ts";
import type { ImageMeta, ServerMessageOf } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import { ClientError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { OutputFile } from "./output-file.ts";
import { checkAnnounced, openKey, verifyAndCommit, type Received } from "./receive.ts";
import type { DirSyncs } from "./save-group.ts";

/** A progress display (the watch's, as for a download). */
export interface Progress {
  update(got: number, total: number): void;
  done(): void;
}

/** A chunk of ciphertext and how to give its buffer back (to the connection, or to a resume's feed). */
interface Chunk {
  bytes: Uint8Array;
  release: () => void;
}

/**
 * Each chunk is released as soon as the decryption is done with it, so what a partial holds is
 * bounded by the connection, which stops reading while PUSH_HIGH bytes are unreleased
 * (connection.ts, P44).
 */
export class Partial {
  private readonly chunks: Chunk[] = [];
  private receivedBytes = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  /** Set once DELIVERED came and matched (P42). */
  delivered: ServerMessageOf<"DELIVERED"> | null = null;
  /** DROPPED BEHIND (P45): no more push data; what came is kept for a resume (version 4). */
  halted = false;
  failed = false;
  private output: OutputFile | null = null;
  private readonly digest = createImageDigest();
  private settle!: () => void;
  /** Resolves at DELIVERED, DROPPED or discard(): the delivery is no longer under way. */
  readonly settled = new Promise<void>((resolve) => (this.settle = resolve));
  private head: Uint8Array | null = null;
  private plainBytes = 0;
  /** Settles when every byte is decrypted and written (or the partial failed); never rejects. */
  readonly done: Promise<void>;

  constructor(
    readonly announced: ServerMessageOf<"INCOMING">,
    creds: Credentials,
    outDir: string,
    progress?: Progress,
  ) {
    this.done = this.run(creds, outDir, progress)
      .catch(() => this.drop())
      .finally(() => progress?.done());
  }

  /** Ciphertext bytes taken so far: contiguous from byte 0, so a resume starts here. */
  get received(): number {
    return this.receivedBytes;
  }

  private async run(creds: Credentials, outDir: string, progress?: Progress): Promise<void> {
    const m = this.announced;
    const { headerBytes } = checkAnnounced(m, m.header, m.dataSize);
    const key = await openKey(m.wrappedKey, creds);
    try {
      this.output = await OutputFile.create(outDir, m.owner, m.name);
      if (this.failed) throw new ClientError("given up");
      for await (const plain of openStreamInto(key, headerBytes, this.source(), new Uint8Array(CHUNK_SIZE))) {
        this.digest.update(plain);
        if (!this.head) this.head = plain.slice(0, SNIFF_BYTES);
        await this.output.write(plain);
        this.plainBytes += plain.length;
        progress?.update(this.plainBytes, m.size);
      }
      if (this.plainBytes !== m.size) throw new ClientError("the delivery ended short");
    } finally {
      key.fill(0);
    }
  }

  /** The queued chunks in order; each is released once the decryption asks for the next (it is done with it then). */
  private async *source(): AsyncGenerator<Uint8Array> {
    let current: Chunk | undefined;
    try {
      for (;;) {
        if (this.failed) throw new ClientError("given up");
        current = this.chunks.shift();
        if (current) {
          yield current.bytes;
          current.release();
          current = undefined;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      current?.release(); // the decryption stopped (a failure) with this one in hand
    }
  }

  /** Push data of this delivery (P41); ignored once it was dropped BEHIND. */
  push(bytes: Uint8Array, release: () => void): void {
    if (this.halted) return release();
    this.take(bytes, release);
  }

  private take(bytes: Uint8Array, release: () => void): void {
    if (this.failed || this.ended) return release();
    this.receivedBytes += bytes.length;
    // More than announced: the download gets it instead.
    if (this.receivedBytes > this.announced.dataSize) {
      release();
      return this.fail();
    }
    this.chunks.push({ bytes, release });
    this.wake?.();
  }

  /**
   * A resume's bytes (the ranged DOWNLOAD's tail, after `received`): resolves once the decryption
   * is done with them, so the caller may reuse the buffer; false when the partial has failed.
   */
  feed(bytes: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => this.take(bytes, () => resolve(!this.failed)));
  }

  /** DELIVERED: every byte must be in (the server sends it after the last PUSH_DATA). */
  end(): void {
    this.settle();
    this.finish();
  }

  /** No more bytes come (DELIVERED, or a resume's last): all of them must be in. */
  finish(): void {
    if (this.receivedBytes !== this.announced.dataSize) return this.fail();
    this.ended = true;
    this.wake?.();
  }

  /** DROPPED BEHIND (P45): the delivery is over, but what it brought stays for a resume. */
  halt(): void {
    this.halted = true;
    this.settle();
  }

  fail(): void {
    this.settle();
    this.drop();
  }

  /** No more of it is used: what it holds goes back to the connection. */
  private drop(): void {
    this.failed = true;
    for (const chunk of this.chunks.splice(0)) chunk.release();
    this.wake?.();
  }

  /** Removes the hidden file (once the decrypting has stopped). */
  async discard(): Promise<void> {
    this.fail();
    await this.done;
    await this.output?.discard();
    this.output = null;
  }

  /**
   * Verified and linked into place like a download (receive.ts) with `signatureB64` (DELIVERED's,
   * or a resume's IMAGE's); the caller acknowledges it after `dirSyncs` is synced.
   */
  async save(conn: Connection, creds: Credentials, crl: CrlSource, image: ImageMeta, dirSyncs: DirSyncs, signatureB64 = this.delivered?.signature): Promise<Received> {
    await this.done;
    if (this.failed || !this.output || !this.ended || signatureB64 === undefined) {
      await this.discard();
      throw new ClientError("the cut-through delivery did not complete");
    }
    const output = this.output;
    this.output = null;
    try {
      return await verifyAndCommit(conn, creds, crl, image, output, this.digest.digest(), this.head, signatureB64, dirSyncs);
    } catch (error) {
      await output.discard();
      throw error;
    }
  }
}
