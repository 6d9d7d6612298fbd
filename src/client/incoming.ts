/**
 * Cut-through delivery on the watcher's side (PROTOCOL.md P40–P49, version 3): an image's
 * ciphertext arrives while it is being posted and is decrypted into a hidden partial file at
 * once. Nothing is linked into place here: the watch's catch-up, which takes images in sequence
 * order, takes a partial whose DELIVERED matches the image LIST gave (take()), verifies it
 * exactly as a download and saves it through the same SaveGroup, so the position file is never
 * ahead of a durable file (D1–D6). Whatever goes wrong with a partial (DROPPED FAILED, a gap, too
 * much data, a lost connection, a failed check) only discards it: the image is then fetched the
 * ordinary way, and a verdict on it is the download's. One dropped BEHIND is kept on version 4
 * and resumed where it stopped (resume-delivery.ts, P45).
 */
import { MAX_INCOMING, sameImageMeta, type ImageMeta, type ServerMessageOf } from "../protocol/index.ts";
import type { Connection, IncomingListener } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import type { Credentials } from "./home.ts";
import { Partial, type Progress } from "./partial.ts";
import type { Received } from "./receive.ts";
import { savedByResume } from "./resume-delivery.ts";
import type { DirSyncs } from "./save-group.ts";

/**
 * How long the catch-up waits for a delivery still under way of an image it has listed: the image
 * is committed, so its DELIVERED (after the rest of its data) is on the way; a server that never
 * sends it costs this wait, then a download.
 */
const SETTLE_WAIT_MS = 30_000;

/** Delivered partials waiting for the catch-up (a save group's worth, MAX_GROUP): more are not started. */
const READY_MAX = 16;


/** The deliveries of one connection; the watch takes the delivered ones in sequence order. */
export class IncomingDeliveries implements IncomingListener {
  private readonly byNumber = new Map<number, Partial>();
  /** Delivered and waiting for the catch-up, by image id. */
  private readonly ready = new Map<string, Partial>();
  /**
   * Dropped BEHIND and kept for a resume (version 4, P45), by image id, oldest first. They have
   * no seq (no DELIVERED), so nothing says when one's image will not come: at most MAX_INCOMING
   * are kept, the oldest removed for a newer one; the rest go with the connection (P47).
   */
  private readonly resumable = new Map<string, Partial>();
  constructor(
    private readonly creds: Credentials,
    private readonly outDir: string,
    /** A delivery completed: the watch should catch up (NEW_IMAGE may come later on a cluster). */
    private readonly onDelivered: () => void,
    /** A bar per delivery while it arrives, as a download draws one. */
    private readonly progress?: (label: string) => Progress,
    /** SIS_DEBUG lines: a delivery the server ended with DROPPED, and why. */
    private readonly debug?: (line: string) => void,
    /** The connection speaks version 4 (P23a): a delivery dropped BEHIND is kept and resumed. */
    private readonly resumes = false,
  ) {}

  incoming(message: ServerMessageOf<"INCOMING">): void {
    // P44: the server keeps to MAX_INCOMING under way; more (a hostile server), or more delivered
    // than the catch-up has taken yet (READY_MAX), are ignored and fetched the ordinary way.
    if (this.byNumber.has(message.delivery) || this.byNumber.size >= MAX_INCOMING || this.ready.size + this.resumable.size >= READY_MAX) return;
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
    const { id, owner, name } = partial.announced;
    const keep = this.resumes && message.reason === "BEHIND" && !partial.failed && !this.resumable.has(id) && !this.ready.has(id);
    this.debug?.(`${owner}/${name}: the server dropped its cut-through delivery (${message.reason}); it will be ${keep ? "resumed" : "downloaded"}`);
    if (!keep) return void partial.discard();
    partial.halt();
    this.resumable.set(id, partial);
    if (this.resumable.size > MAX_INCOMING) {
      const [oldestId, oldest] = this.resumable.entries().next().value!;
      this.resumable.delete(oldestId);
      void oldest.discard();
    }
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
    const halted = this.resumable.get(image.id);
    if (halted) {
      // Its metadata are checked against the ranged DOWNLOAD's IMAGE (resume-delivery.ts).
      this.resumable.delete(image.id);
      return halted;
    }
    const partial = this.ready.get(image.id);
    if (!partial) return null;
    this.ready.delete(image.id);
    if (sameImageMeta(partial.delivered!.image, image)) return partial;
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
    const all = [...this.byNumber.values(), ...this.ready.values(), ...this.resumable.values()];
    this.byNumber.clear();
    this.ready.clear();
    this.resumable.clear();
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
  if (partial.halted) return savedByResume(partial, conn, image, creds, crl, dirSyncs, debug);
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
