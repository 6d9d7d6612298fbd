/**
 * Cut-through delivery on the watcher's side (PROTOCOL.md P40–P49, version 3): an image's
 * ciphertext arrives while it is being posted and is decrypted into a hidden partial file at
 * once. Nothing is linked into place here: the watch's catch-up, which takes images in sequence
 * order, takes a partial whose DELIVERED matches the image LIST gave (take()), verifies it
 * exactly as a download and saves it through the same SaveGroup, so the position file is never
 * ahead of a durable file (D1–D6). Whatever goes wrong with a partial (DROPPED, a gap, too much
 * data, a lost connection, a failed check) only discards it: the image is then fetched the
 * ordinary way, and a verdict on it is the download's.
 */
import { CHUNK_SIZE, createImageDigest, openStreamInto } from "../crypto/index.ts";
import { SNIFF_BYTES } from "../image/sniff.ts";
import { MAX_INCOMING, type ImageMeta, type ServerMessageOf } from "../protocol/index.ts";
import type { Connection, IncomingListener } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import { ClientError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { OutputFile } from "./output-file.ts";
import { checkAnnounced, openKey, verifyAndCommit, type Received } from "./receive.ts";
import type { DirSyncs } from "./save-group.ts";

/** A progress display (the watch's, as for a download). */
interface Progress {
  update(got: number, total: number): void;
  done(): void;
}

/**
 * How long the catch-up waits for a delivery still under way of an image it has listed: the image
 * is committed, so its DELIVERED (after the rest of its data) is on the way; a server that never
 * sends it costs this wait, then a download.
 */
const SETTLE_WAIT_MS = 30_000;

/** Delivered partials waiting for the catch-up (a save group's worth, MAX_GROUP): more are not started. */
const READY_MAX = 16;

/** A chunk of push data and how to give its buffer back to the connection (IncomingListener.data). */
interface Chunk {
  bytes: Uint8Array;
  release: () => void;
}

/**
 * One delivery: its ciphertext is opened and written as it comes. Each chunk is released as soon
 * as the decryption is done with it, so what a partial holds is bounded by the connection, which
 * stops reading while PUSH_HIGH bytes are unreleased (connection.ts, P44).
 */
class Partial {
  private readonly chunks: Chunk[] = [];
  private received = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  /** Set once DELIVERED came and matched (P42). */
  delivered: ServerMessageOf<"DELIVERED"> | null = null;
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

  push(bytes: Uint8Array, release: () => void): void {
    if (this.failed || this.ended) return release();
    this.received += bytes.length;
    // More than announced: the download gets it instead.
    if (this.received > this.announced.dataSize) {
      release();
      return this.fail();
    }
    this.chunks.push({ bytes, release });
    this.wake?.();
  }

  /** DELIVERED: every byte must be in (the server sends it after the last PUSH_DATA). */
  end(): void {
    this.settle();
    if (this.received !== this.announced.dataSize) return this.fail();
    this.ended = true;
    this.wake?.();
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

  /** Verified and linked into place like a download (receive.ts); the caller acknowledges it after `dirSyncs` is synced. */
  async save(conn: Connection, creds: Credentials, crl: CrlSource, image: ImageMeta, dirSyncs: DirSyncs): Promise<Received> {
    await this.done;
    if (this.failed || !this.output || !this.delivered) {
      await this.discard();
      throw new ClientError("the cut-through delivery did not complete");
    }
    const output = this.output;
    this.output = null;
    try {
      return await verifyAndCommit(conn, creds, crl, image, output, this.digest.digest(), this.head, this.delivered.signature, dirSyncs);
    } catch (error) {
      await output.discard();
      throw error;
    }
  }
}

function sameMeta(a: ImageMeta, b: ImageMeta): boolean {
  return a.seq === b.seq && a.id === b.id && a.owner === b.owner && a.name === b.name && a.size === b.size && a.contentType === b.contentType && a.createdAt === b.createdAt;
}

/** The deliveries of one connection; the watch takes the delivered ones in sequence order. */
export class IncomingDeliveries implements IncomingListener {
  private readonly byNumber = new Map<number, Partial>();
  /** Delivered and waiting for the catch-up, by image id. */
  private readonly ready = new Map<string, Partial>();
  constructor(
    private readonly creds: Credentials,
    private readonly outDir: string,
    /** A delivery completed: the watch should catch up (NEW_IMAGE may come later on a cluster). */
    private readonly onDelivered: () => void,
    /** A bar per delivery while it arrives, as a download draws one. */
    private readonly progress?: (label: string) => Progress,
    /** SIS_DEBUG lines: a delivery the server ended with DROPPED, and why. */
    private readonly debug?: (line: string) => void,
  ) {}

  incoming(message: ServerMessageOf<"INCOMING">): void {
    // P44: the server keeps to MAX_INCOMING under way; more (a hostile server), or more delivered
    // than the catch-up has taken yet (READY_MAX), are ignored and fetched the ordinary way.
    if (this.byNumber.has(message.delivery) || this.byNumber.size >= MAX_INCOMING || this.ready.size >= READY_MAX) return;
    this.byNumber.set(message.delivery, new Partial(message, this.creds, this.outDir, this.progress?.(`getting ${message.owner}/${message.name}`)));
  }

  data(delivery: number, bytes: Uint8Array, release: () => void = () => {}): void {
    const partial = this.byNumber.get(delivery);
    if (partial) partial.push(bytes, release);
    else release();
  }

  delivered(message: ServerMessageOf<"DELIVERED">): void {
    const partial = this.byNumber.get(message.delivery);
    if (!partial) return;
    this.byNumber.delete(message.delivery);
    const a = partial.announced;
    const m = message.image;
    if (m.id !== a.id || m.owner !== a.owner || m.name !== a.name || m.size !== a.size || m.contentType !== a.contentType || this.ready.has(m.id)) {
      void partial.discard();
      return;
    }
    partial.delivered = message;
    partial.end();
    if (partial.failed) {
      void partial.discard(); // short, too long, or not opened: the catch-up downloads it
      return;
    }
    this.ready.set(m.id, partial);
    this.onDelivered();
  }

  dropped(message: ServerMessageOf<"DROPPED">): void {
    const partial = this.byNumber.get(message.delivery);
    if (!partial) return;
    this.byNumber.delete(message.delivery);
    this.debug?.(`${partial.announced.owner}/${partial.announced.name}: the server dropped its cut-through delivery (${message.reason}); it will be downloaded`);
    void partial.discard();
  }

  /**
   * The catch-up reached `image`: its delivered partial if it has one that says exactly the
   * same (P46), else null. A delivery of it still under way (LIST can see the row before the
   * server has sent DELIVERED) is waited for, at most SETTLE_WAIT_MS, then given up.
   */
  async take(image: ImageMeta): Promise<Partial | null> {
    const underWay = [...this.byNumber.values()].find((p) => p.announced.id === image.id);
    if (underWay) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([underWay.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    for (const [n, p] of this.byNumber) {
      if (p.announced.id !== image.id) continue;
      this.byNumber.delete(n);
      void p.discard();
    }
    const partial = this.ready.get(image.id);
    if (!partial) return null;
    this.ready.delete(image.id);
    if (sameMeta(partial.delivered!.image, image)) return partial;
    void partial.discard();
    return null;
  }

  /** After a catch-up: delivered images it did not list (deleted meanwhile) are not kept. */
  async dropListedUpTo(seq: number): Promise<void> {
    for (const [id, p] of this.ready) {
      if (p.delivered!.image.seq > seq) continue;
      this.ready.delete(id);
      await p.discard();
    }
  }

  /** The connection is gone: every partial is removed; the next connection's catch-up fetches the images. */
  async discardAll(): Promise<void> {
    const all = [...this.byNumber.values(), ...this.ready.values()];
    this.byNumber.clear();
    this.ready.clear();
    await Promise.all(all.map((p) => p.discard()));
  }
}

/**
 * The image as its cut-through delivery brought it (P46), verified and saved like a download;
 * null when it has none or the delivery cannot be used, and it is then downloaded: a refusal
 * is always the download's verdict. A lost connection is thrown, as a download's would be.
 */
export async function savedFromIncoming(
  incoming: IncomingDeliveries | null, conn: Connection, image: ImageMeta, creds: Credentials, crl: CrlSource, dirSyncs: DirSyncs, debug?: (line: string) => void,
): Promise<Received | null> {
  const partial = await incoming?.take(image);
  if (!partial) return null;
  const label = `${image.owner}/${image.name} (#${image.seq})`;
  try {
    const result = await partial.save(conn, creds, crl, image, dirSyncs);
    debug?.(`${label} came by cut-through delivery`);
    return result;
  } catch (error) {
    if (conn.closed) throw error;
    debug?.(`${label}: the cut-through delivery cannot be used (${(error as Error).message}); downloading it`);
    return null;
  }
}
