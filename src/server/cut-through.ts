/**
 * Cut-through delivery (PROTOCOL.md P40–P49, version 3): the ciphertext of an upload goes to the
 * watching connections while it arrives, so a watcher has decrypted it by the time the server
 * has committed it. The server only forwards: what a receiver may save is decided by DELIVERED,
 * sent after the commit (P42); a failed upload ends with DROPPED (P43). A receiver whose outbox
 * is behind is dropped from the delivery (P45): it never slows the poster or grows the server's
 * memory, and it gets the image the ordinary way (NEW_IMAGE, LIST, DOWNLOAD).
 */
import { wrapKey } from "../crypto/index.ts";
import { encodeMessage, encodePushData, MAX_DELIVERY_ID, MAX_PUSH_DATA_FRAME, MAX_INCOMING, toBase64, type ImageMeta } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { IncomingReceiver } from "./hub.ts";
import { identify } from "./identify.ts";

/** P45: a receiver with more than this queued is dropped from the delivery (it reads too slowly). */
export const RECEIVER_BACKLOG_MAX = 4 * 1024 * 1024;
/** Ciphertext held while the receivers' keys are being wrapped (the first few frames); more ends the delivery. */
const PENDING_MAX = 8 * 1024 * 1024;

let lastDelivery = 0;
function nextDelivery(): number {
  lastDelivery = lastDelivery >= MAX_DELIVERY_ID ? 1 : lastDelivery + 1;
  return lastDelivery;
}

/** What INCOMING tells about the upload (P41): all of it known at UPLOAD_READY. */
export interface IncomingImage {
  id: string;
  owner: string;
  name: string;
  contentType: ImageMeta["contentType"];
  size: number;
  dataSize: number;
  header: Uint8Array;
}

/** One upload's delivery to the receivers connected when it started. */
export class Delivery {
  readonly number = nextDelivery();
  private state: "opening" | "live" | "ended" = "opening";
  private readonly receivers = new Set<IncomingReceiver>();
  /** A frame buffer no outbox holds any more (every receiver's socket took the frame at once): the next frame goes into it. */
  private spare: Uint8Array | null = null;
  /** PUSH_DATA frames made while the receivers' keys are wrapped, sent once they are. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  private constructor(
    private readonly ctx: ServerContext,
    private readonly image: IncomingImage,
  ) {}

  /**
   * Starts a delivery to every watching connection that has room (P44). `contentKey` is the
   * key the upload's own check unwraps (P35); the delivery takes its copy before anyone may zero it.
   * Null when nobody watches.
   */
  static start(ctx: ServerContext, image: IncomingImage, contentKey: Promise<Uint8Array>): Delivery | null {
    const watchers = ctx.hub.incomingWatchers().filter((r) => !r.closed && r.incoming < MAX_INCOMING && r.identity);
    if (watchers.length === 0) return null;
    const delivery = new Delivery(ctx, image);
    for (const r of watchers) r.incoming++;
    // Registered before any other reader of the promise: this copy is taken before the upload may zero its key.
    const copy = contentKey.then((key) => key.slice());
    void delivery.open(watchers, copy);
    return delivery;
  }

  private async open(watchers: IncomingReceiver[], keyCopy: Promise<Uint8Array>): Promise<void> {
    let key: Uint8Array;
    try {
      key = await keyCopy;
    } catch {
      // The key does not unwrap: the upload fails with BAD_UPLOAD, and nobody was told of it.
      this.release(watchers);
      this.state = "ended";
      return;
    }
    const announced = new Map<IncomingReceiver, Uint8Array>();
    try {
      // Each receiver on its own: a store failure for one leaves it to NEW_IMAGE, the others still get it.
      const results = await Promise.allSettled(watchers.map(async (r) => {
        // As at DOWNLOAD (P5a): a certificate revoked or expired since HELLO is given no key.
        const current = await identify(this.ctx.store, r.identity!.certDer);
        if (!("identity" in current)) return;
        announced.set(r, await wrapKey(key, r.identity!.certDer));
        // The same line as a DOWNLOAD's (handle-read.ts): the key re-wrapped for this receiver, the image on its way.
        this.ctx.log.info("image sent", { id: this.image.id, owner: this.image.owner, to: current.identity.username, serial: current.identity.serial, via: "cut-through" });
      }));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) this.ctx.log.warn("cut-through not started for a receiver", { id: this.image.id, error: String((failed as PromiseRejectedResult).reason) });
    } finally {
      key.fill(0);
    }
    for (const r of watchers) if (!announced.has(r)) r.incoming--;
    if (this.state === "ended") {
      // Dropped or delivered before the keys were ready: nobody was told, so nothing more is said.
      this.release([...announced.keys()]);
      return;
    }
    const { id, owner, name, contentType, size, dataSize, header } = this.image;
    for (const [r, wrapped] of announced) {
      if (r.closed) {
        r.incoming--;
        continue;
      }
      r.pushIncoming(encodeMessage({ type: "INCOMING", delivery: this.number, id, owner, name, contentType, size, dataSize, header: toBase64(header), wrappedKey: toBase64(wrapped) }));
      this.receivers.add(r);
    }
    this.state = "live";
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const frame of pending) this.forward(frame);
    if (this.receivers.size === 0) this.state = "ended";
  }

  /** The upload wrote these ciphertext bytes (P41); copied into one frame shared by every receiver. */
  chunk(ciphertext: Uint8Array): void {
    if (this.state === "ended") return;
    if (this.state === "live") {
      const frame = encodePushData(this.number, ciphertext, this.spare ?? undefined);
      this.spare = null;
      if (!this.forward(frame)) this.spare = new Uint8Array(frame.buffer, frame.byteOffset, MAX_PUSH_DATA_FRAME);
      return;
    }
    const frame = encodePushData(this.number, ciphertext);
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (this.pendingBytes > PENDING_MAX) {
      // The keys take too long: the watchers fetch this one the ordinary way.
      this.pending = [];
      this.pendingBytes = 0;
      this.state = "ended";
    }
  }

  /** Queues `frame` for every receiver still in; true if an outbox kept it (a socket did not take it all at once). */
  private forward(frame: Uint8Array): boolean {
    let kept = false;
    for (const r of this.receivers) {
      if (r.closed) {
        this.leave(r);
      } else if (r.backlog > RECEIVER_BACKLOG_MAX) {
        // P45: behind; the rest of this image would only pile up here. It fetches it after NEW_IMAGE.
        r.pushIncoming(encodeMessage({ type: "DROPPED", delivery: this.number, reason: "BEHIND" }));
        this.ctx.metrics.cutThroughDropped++;
        this.leave(r);
      } else {
        // The outbox writes at once when it is empty; what the socket did not take is queued (a view of the frame).
        const before = r.backlog;
        r.pushIncoming(frame);
        if (r.backlog > before || before > 0) kept = true;
      }
    }
    return kept;
  }

  /**
   * The image is durable and recorded (P42): DELIVERED to every receiver still in, before the
   * NEW_IMAGE that follows it on the same connection. `signature` is what IMAGE would carry (T2).
   */
  delivered(meta: ImageMeta, signature: Uint8Array): void {
    if (this.state !== "live") {
      this.end();
      return;
    }
    const frame = encodeMessage({ type: "DELIVERED", delivery: this.number, image: meta, signature: toBase64(signature) });
    for (const r of this.receivers) {
      if (r.closed) continue;
      r.pushIncoming(frame);
      this.ctx.metrics.cutThroughDelivered++;
    }
    this.end();
  }

  /** The upload failed or was aborted (P43): every receiver removes its partial file. */
  dropped(): void {
    if (this.state === "live") {
      const frame = encodeMessage({ type: "DROPPED", delivery: this.number, reason: "FAILED" });
      for (const r of this.receivers) {
        if (r.closed) continue;
        r.pushIncoming(frame);
        this.ctx.metrics.cutThroughDropped++;
      }
    }
    this.end();
  }

  private leave(r: IncomingReceiver): void {
    this.receivers.delete(r);
    r.incoming--;
  }

  private release(receivers: Iterable<IncomingReceiver>): void {
    for (const r of receivers) r.incoming--;
  }

  private end(): void {
    if (this.state === "ended" && this.receivers.size === 0) return;
    const wasOpening = this.state === "opening";
    this.state = "ended";
    this.pending = [];
    this.pendingBytes = 0;
    this.spare = null;
    // While opening, open() releases the watchers it counted once their keys are done.
    if (!wasOpening) for (const r of [...this.receivers]) this.leave(r);
  }
}
