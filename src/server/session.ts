/** One protocol connection: frames in, the hello / ready state machine, replies and pushes out. */
import {
  CONTROL, DATA, decodeClientMessage, encodeData, encodeMessage,
  isFatal, Outbox, PIPELINED_VERSION, ProtocolError, type ErrorCode, type Frame, type ServerMessage, type WritableSocket,
} from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { dispatch } from "./dispatch.ts";
import { identify, type Identity } from "./identify.ts";
import { PostPipeline } from "./post-pipeline.ts";
import type { Peer, Upload } from "./peer.ts";
import { refusalMessage } from "./refusals.ts";
import type { WatchedSession } from "./revocation-watch.ts";
import { errorReply, shuttingDown } from "./session-errors.ts";
import { agreeHello, helloReply } from "./session-hello.ts";
import { SessionInbound } from "./session-inbound.ts";
import { SessionUploads } from "./session-uploads.ts";

// Importable from here as before the split.
export { shuttingDown } from "./session-errors.ts";

/** M12: last-seen is written at most this often per user. */
const LAST_SEEN_COARSE_MS = 60_000;

export interface SessionSocket extends WritableSocket {
  readonly remoteAddress: string;
  terminate(): void;
  pause(): void;
  resume(): void;
}

/**
 * Replies the peer has not read yet. Above this the session handles no more
 * frames until the peer reads: a client that pipelines requests and never
 * reads the replies fills the inbound queue instead, the socket pauses, TCP
 * pushes back, and its idle deadline (which only whole handled frames move)
 * ends the connection. Without it every PING would grow server memory.
 */
const OUTBOUND_HIGH = 1024 * 1024;

/**
 * The session alone changes its own state (hello / ready / closed, the upload
 * under way, the deadline); handlers see it as a Peer (peer.ts). It handles one
 * frame at a time, in order: a frame that arrives while a handler awaits (the
 * store, the disk, argon2id) waits in `chain` until that handler is done.
 */
export class Session implements Peer, WatchedSession {
  #state: "hello" | "ready" | "closed" = "hello";
  #identity: Identity | null = null;
  #version = 1;
  /** The upload under way (version 1) or the uploads in flight (version 2, P30), and their payload buffers. */
  private readonly uploads = new SessionUploads();
  /** Settles when the certificate presented in the handshake has been identified (the store is asked). */
  private identified: Promise<void> = Promise.resolve();
  /** A presented certificate we refuse; answered to the HELLO (P5). */
  private refusal: { code: ErrorCode; reason: string } | null = null;
  readonly outbox: Outbox;
  private chain: Promise<void> = Promise.resolve();
  /** Frames in: the decoder, and the socket paused while too many wait (session-inbound.ts). */
  private readonly inbound: SessionInbound;
  /** Counted against its address's connection limit (false when refused for it). */
  admitted = false;
  private released = false;
  private subscribed = false;
  /** Set by drain() when the server stops (O1, O2): the session closes once what is under way has ended. */
  private draining = false;
  /** A frame is being handled (a request awaits the store, the disk, argon2id, a download's reader). */
  private handling = false;
  /** Unix ms after which the sweeper closes this session; moves only on whole frames and reply progress. */
  deadline: number;

  constructor(
    readonly ctx: ServerContext,
    readonly socket: SessionSocket,
  ) {
    this.outbox = new Outbox(socket);
    this.inbound = new SessionInbound(socket, (kind, length) => (kind === DATA && this.uploads.streaming ? this.uploads.payloads.take(length) : null));
    this.deadline = Date.now() + ctx.limits.handshakeTimeoutMs;
  }

  get address(): string {
    return this.socket.remoteAddress;
  }

  get state(): "hello" | "ready" | "closed" {
    return this.#state;
  }

  get identity(): Identity | null {
    return this.#identity;
  }

  get version(): number {
    return this.#version;
  }

  /** Version 2 (P30): the uploads in flight; created at a HELLO that agrees on version 2. */
  get pipeline(): PostPipeline | null {
    return this.uploads.pipeline;
  }

  /** Starts identifying the presented certificate; the HELLO waits for the answer (P4, P5). */
  onHandshake(peerCertDer: Uint8Array | null): void {
    this.identified = identify(this.ctx.store, peerCertDer).then((result) => {
      if ("identity" in result) this.#identity = result.identity;
      else if ("refused" in result) this.refusal = { code: result.refused, reason: result.reason };
    });
    // A store failure is reported to the HELLO that awaits this, not as an unhandled rejection.
    this.identified.catch(() => {});
  }

  onData(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    let frames: Frame[];
    try {
      frames = this.inbound.decode(bytes);
    } catch (error) {
      this.fail(error);
      return;
    }
    for (const frame of frames) {
      this.inbound.queued(frame.payload.length);
      this.chain = this.chain.then(() => this.handleFrame(frame)).catch((error) => this.fail(error)).finally(() => this.afterFrame());
    }
    this.inbound.check();
  }

  onDrain(): void {
    this.outbox.flush();
  }

  /** The socket is gone: release everything the session held, exactly once. */
  onClose(): void {
    this.#state = "closed";
    this.outbox.markClosed();
    this.release();
  }

  /** Version 3 (P44): the cut-through deliveries this connection is in (counted by them). */
  incoming = 0;

  watchIncoming(): void {
    if (this.closed || !this.subscribed) return;
    this.ctx.hub.watchIncoming(this);
  }

  /** A cut-through frame (P41–P43): queued like any other, without moving the idle deadline. */
  pushIncoming(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.send(frame);
  }

  /** NEW_IMAGE from the hub: the same encoded bytes for every subscriber. */
  push(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.send(frame);
    this.ctx.metrics.notificationsSent++;
  }

  // Once closed nothing more is written: a handler that resumes after an await
  // (the store, the disk) must not put a reply behind the closing ERROR.
  send(message: ServerMessage): void {
    if (this.closed) return;
    this.outbox.send(encodeMessage(message));
  }

  sendControl(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.send(frame);
  }

  sendData(bytes: Uint8Array): void {
    if (this.closed) return;
    this.outbox.send(encodeData(bytes));
    this.touch();
  }

  /** Whole encoded frames, as sendBlob makes them (FrameSink). */
  sendFrame(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.send(frame);
    this.touch();
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  beginUpload(upload: Upload): boolean {
    if (this.closed) {
      // release() has run: nobody else would ever abort this upload.
      void upload.abort();
      return false;
    }
    this.uploads.begin(upload);
    return true;
  }

  endUpload(): void {
    this.uploads.end();
  }

  get backlog(): number {
    return this.outbox.backlog;
  }

  below(limit: number): Promise<void> {
    return this.outbox.below(limit);
  }

  /** Pushes the idle deadline forward: called on every whole frame and on reply progress. */
  touch(ms = this.ctx.limits.idleTimeoutMs): void {
    this.deadline = Date.now() + ms;
    // P36: an upload waiting for its data or its signature bounds the deadline, whatever else
    // (PING, other requests) the client sends meanwhile.
    const pipeline = this.pipeline;
    if (pipeline?.awaitingClient) this.deadline = Math.min(this.deadline, pipeline.progressAt + this.ctx.limits.uploadStallTimeoutMs);
  }

  /** An upload is under way (its DATA frames are still coming, or it is being committed). */
  get uploading(): boolean {
    return this.uploads.uploading;
  }

  /**
   * The server is stopping (O1, O2): no new request is taken. An idle session is
   * closed now with SHUTTING_DOWN; one whose request or upload is under way once
   * that has ended (its reply sent first). The server closes the rest when its
   * grace period ends.
   */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    if (!this.handling && !this.uploading) this.fail(shuttingDown());
  }

  private afterFrame(): void {
    this.handling = false;
    if (this.draining && !this.uploading) this.fail(shuttingDown());
  }

  /** The last pipelined upload has been answered (P30): a draining session may close now (O1). */
  private pipelineIdle(): void {
    this.uploads.idle();
    if (this.draining && !this.handling && !this.uploading) this.fail(shuttingDown());
  }

  private async handleFrame(frame: Frame): Promise<void> {
    this.handling = true;
    this.inbound.taken(frame.payload.length);
    if (this.closed) return;
    if (this.outbox.backlog > OUTBOUND_HIGH) {
      await this.outbox.below(OUTBOUND_HIGH);
      // The peer may have gone, or its deadline passed, while we waited.
      if (this.closed) return;
    }
    if (this.uploads.takes(frame)) {
      await this.uploads.receive(frame, () => this.touch());
      return;
    }
    this.touch();
    if (frame.kind !== CONTROL) {
      throw new ProtocolError(this.#state === "hello" ? "HELLO_REQUIRED" : "BAD_UPLOAD", "unexpected data frame");
    }
    if (this.#state === "hello") return this.hello(frame.payload);
    const message = decodeClientMessage(frame.payload, this.#version);
    // Draining with version-2 uploads in flight (O1, P37): they may finish, nothing new starts.
    if (this.draining && message.type !== "POST_SIGNATURE" && message.type !== "PING") throw shuttingDown();
    await dispatch(this.ctx, this, message);
  }

  private async hello(payload: Uint8Array): Promise<void> {
    const agreed = agreeHello(payload);
    await this.identified;
    if (this.closed) return;
    if (this.refusal) {
      this.ctx.refusalLog.warn("certificate refused at HELLO", { address: this.address, code: this.refusal.code, reason: this.refusal.reason });
      throw new ProtocolError(this.refusal.code, refusalMessage(this.refusal.code));
    }
    this.#state = "ready";
    this.#version = agreed;
    if (agreed >= PIPELINED_VERSION) this.uploads.pipeline = new PostPipeline((error) => this.fail(error), () => this.pipelineIdle());
    if (this.#identity) {
      // Membership (M12): last seen, coarse (one write a minute at most); a failure here costs the session nothing.
      this.ctx.store.touchUser(this.#identity.userId, Date.now(), LAST_SEEN_COARSE_MS).catch(() => {});
      this.ctx.metrics.authenticatedConnections++;
      this.subscribed = true;
      this.ctx.hub.subscribe(this);
      // (M23) The certificate's last use, for 'sis devices'; a failure here costs nothing but the date.
      this.ctx.store.touchCert(this.#identity.serial, Date.now()).catch(() => {});
    }
    this.send(helloReply(this.ctx, agreed, this.identity));
  }

  /** Reports an error to the peer; fatal ones close the connection (PROTOCOL.md section 5). */
  fail(error: unknown): void {
    if (this.closed) return;
    // Only a version-2 connection has upload ids (P30).
    const { error: pe, message } = errorReply(this.ctx, this.address, error, this.pipeline !== null);
    this.ctx.metrics.refuse(pe.code);
    this.send(message);
    if (isFatal(pe.code)) this.close();
  }

  /** Ends the connection after what is queued has been sent; stops handling frames at once. */
  close(): void {
    if (this.closed) return;
    this.#state = "closed";
    const timer = setTimeout(() => this.socket.terminate(), 2_000);
    void this.outbox.endAfterFlush().finally(() => clearTimeout(timer));
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.uploads.release();
    this.ctx.hub.unsubscribeSession(this);
    this.ctx.metrics.connections--;
    if (this.subscribed) this.ctx.metrics.authenticatedConnections--;
    if (this.admitted) this.ctx.hub.release(this.address);
  }
}
