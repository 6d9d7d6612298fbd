/** Who is connected: per-address counts and the NEW_IMAGE and IMAGE_DELETED fan-out to authenticated sessions, from the notifier's events. */
import { encodeMessage } from "../protocol/index.ts";
import type { DeletionEvent, ImageEvent, Notifier } from "./ports.ts";
import { toMeta } from "./wire-image.ts";
import type { Identity } from "./identify.ts";

export interface Subscriber {
  push(frame: Uint8Array): void;
}

/** A connection that asked for INCOMING pushes (WATCH_INCOMING, P40); the Session implements it. */
export interface IncomingReceiver {
  readonly identity: Identity | null;
  readonly closed: boolean;
  /** Bytes queued for the socket and not yet taken. */
  readonly backlog: number;
  /** Deliveries this connection is in (P44); kept by the deliveries. */
  incoming: number;
  /** A whole encoded frame, queued behind what is queued already (the idle deadline does not move: the peer did nothing). */
  pushIncoming(frame: Uint8Array): void;
}

export class Hub {
  private readonly perAddress = new Map<string, number>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly uploads = new Map<string, number>();
  /** Version 3 (P40): connections that asked for cut-through deliveries. */
  private readonly watchingIncoming = new Set<IncomingReceiver>();
  private readonly unsubscribe: (() => void)[];
  notificationsSent = 0;

  constructor(notifier: Notifier) {
    // Deletions come from the notifier too, not from the handler: on several nodes the notifier also
    // delivers what another node or a `sis admin` process deleted (PROTOCOL.md M27, M29).
    this.unsubscribe = [
      notifier.subscribe((event) => this.broadcast(event)),
      notifier.subscribeDeletions((event) => this.broadcastDeleted(event)),
    ];
  }

  /** Counts a new connection; false if the address is over its limit. */
  admit(address: string, limit: number): boolean {
    const n = this.perAddress.get(address) ?? 0;
    if (n >= limit) return false;
    this.perAddress.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }

  subscribe(s: Subscriber): void {
    this.subscribers.add(s);
  }

  unsubscribeSession(s: Subscriber): void {
    this.subscribers.delete(s);
    this.watchingIncoming.delete(s as unknown as IncomingReceiver);
  }

  /** WATCH_INCOMING (P40): the connection takes INCOMING pushes until it closes. */
  watchIncoming(r: IncomingReceiver): void {
    this.watchingIncoming.add(r);
  }

  incomingWatchers(): IncomingReceiver[] {
    return [...this.watchingIncoming];
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Reserves an upload slot for a user; false if they have `limit` in progress. */
  beginUpload(user: string, limit: number): boolean {
    const n = this.uploads.get(user) ?? 0;
    if (n >= limit) return false;
    this.uploads.set(user, n + 1);
    return true;
  }

  endUpload(user: string): void {
    const n = (this.uploads.get(user) ?? 1) - 1;
    if (n <= 0) this.uploads.delete(user);
    else this.uploads.set(user, n);
  }

  /** Encodes NEW_IMAGE once and hands the same bytes to every subscriber. */
  private broadcast(event: ImageEvent): void {
    const frame = encodeMessage({ type: "NEW_IMAGE", image: toMeta(event) });
    for (const s of this.subscribers) s.push(frame);
    this.notificationsSent += this.subscribers.size;
  }

  /** IMAGE_DELETED (M27), encoded once, to every authenticated session; a push like NEW_IMAGE. */
  private broadcastDeleted(image: DeletionEvent): void {
    const frame = encodeMessage({ type: "IMAGE_DELETED", image: { seq: image.seq, id: image.id, owner: image.owner, name: image.name } });
    for (const s of this.subscribers) s.push(frame);
    this.notificationsSent += this.subscribers.size;
  }

  close(): void {
    for (const off of this.unsubscribe) off();
  }
}
