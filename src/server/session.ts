/** One protocol connection: frames in, the hello / ready state machine, replies and pushes out. */
import {
  CONTROL, DATA, decodeClientMessage, encodeData, encodeMessage, FrameDecoder,
  isFatal, MAX_CONTROL_FRAME, MAX_DATA_FRAME, PIPELINED_VERSION, PROTOCOL_NAME, PROTOCOL_VERSION, ProtocolError, agreedVersion, SUPPORTED_VERSIONS,
  toBase64, type ClientMessage, type ErrorCode, type Frame, type ServerMessage,
} from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { dispatch } from "./dispatch.ts";
import { identify, type Identity } from "./identify.ts";
import { PayloadPool } from "./payload-pool.ts";
import { PostPipeline } from "./post-pipeline.ts";
import type { FrameSink } from "./send-blob.ts";
import type { Peer, Upload } from "./peer.ts";
import { refusalMessage } from "./refusals.ts";
import type { WatchedSession } from "./revocation-watch.ts";

/** M12: last-seen is written at most this often per user. */
const LAST_SEEN_COARSE_MS = 60_000;
import { Outbox, type WritableSocket } from "../protocol/index.ts";

export interface SessionSocket extends WritableSocket {
  readonly remoteAddress: string;
  terminate(): void;
  pause(): void;
  resume(): void;
}

/**
 * Frames received but not yet processed. Above the high mark the socket stops
 * reading, so a fast uploader meets TCP backpressure instead of our memory.
 */
const INBOUND_HIGH = 4 * 1024 * 1024;
const INBOUND_LOW = 1024 * 1024;
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
  /** Version 2 (P30): the uploads in flight; created at a HELLO that agrees on version 2. */
  pipeline: PostPipeline | null = null;
  /** Settles when the certificate presented in the handshake has been identified (the store is asked). */
  private identified: Promise<void> = Promise.resolve();
  /** A presented certificate we refuse; answered to the HELLO (P5). */
  private refusal: { code: ErrorCode; reason: string } | null = null;
  /** Buffers for the data payloads of the upload under way (given back once the upload has written each). */
  readonly payloads = new PayloadPool();
  /**
   * ownsChunks: Bun hands each `data` callback a fresh buffer it never reuses
   * (test/runtime/socket-data.test.ts), so a control payload lying wholly in one
   * chunk is a view, not a copy; queued frames stay bounded by INBOUND_HIGH. The
   * data payloads of an upload are copied into `payloads` instead, so an upload of
   * any size reuses the same few payload buffers and the socket's buffers (up to
   * ~512 KiB each), viewed by nothing, are freed as soon as they are decoded
   * (releaseChunks) instead of piling up until a collection. Measured, peak RSS of
   * sis serve per 100 MiB upload, 4 in a row: 84–104 MiB with the socket buffers
   * left as garbage, 65–68 MiB freed (and the pool freed after each upload); 59–61
   * MiB for 1 MiB uploads.
   */
  private readonly decoder = new FrameDecoder({
    ownsChunks: true,
    releaseChunks: true,
    allocate: (kind, length) => (kind === DATA && (this.upload || this.pipeline?.streamingNow) ? this.payloads.take(length) : null),
  });
  readonly outbox: Outbox;
  private chain: Promise<void> = Promise.resolve();
  private inbound = 0;
  private upload: Upload | null = null;
  /** Counted against its address's connection limit (false when refused for it). */
  admitted = false;
  private released = false;
  private subscribed = false;
  private paused = false;
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
      frames = this.decoder.push(bytes);
    } catch (error) {
      this.fail(error);
      return;
    }
    for (const frame of frames) {
      this.inbound += frame.payload.length;
      this.chain = this.chain.then(() => this.handleFrame(frame)).catch((error) => this.fail(error)).finally(() => this.afterFrame());
    }
    if (this.inbound > INBOUND_HIGH && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
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
    this.upload = upload;
    return true;
  }

  endUpload(): void {
    this.upload = null;
    this.payloads.clear();
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
    return this.upload !== null || (this.pipeline?.size ?? 0) > 0;
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
    // As endUpload() does for version 1: an idle session holds no payload buffers.
    if (!this.pipeline?.streamingNow) this.payloads.clear();
    if (this.draining && !this.handling && !this.uploading) this.fail(shuttingDown());
  }

  private async handleFrame(frame: Frame): Promise<void> {
    this.handling = true;
    this.inbound -= frame.payload.length;
    if (this.paused && this.inbound < INBOUND_LOW) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.closed) return;
    if (this.outbox.backlog > OUTBOUND_HIGH) {
      await this.outbox.below(OUTBOUND_HIGH);
      // The peer may have gone, or its deadline passed, while we waited.
      if (this.closed) return;
    }
    if (this.upload) {
      this.touch();
      const upload = this.upload;
      await upload.receive(frame);
      // The blob writer has written or copied the payload (BlobWriter.write keeps no
      // chunk), so the decoder may fill its buffer again; an upload that ended with
      // this frame already freed the pool (endUpload).
      if (frame.kind === DATA && this.upload === upload) this.payloads.give(frame.payload);
      return;
    }
    if (frame.kind === DATA && this.pipeline) {
      // Version 2 (P32): the data of the oldest upload still missing bytes.
      await this.pipeline.data(frame);
      this.touch();
      this.payloads.give(frame.payload);
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
    let message: ClientMessage;
    try {
      message = decodeClientMessage(payload);
    } catch (error) {
      // A peer that does not speak sis fails here, on its first frame (P10).
      if (error instanceof ProtocolError && error.code === "UNKNOWN_MESSAGE") throw new ProtocolError("HELLO_REQUIRED", "the first message must be HELLO");
      throw error;
    }
    if (message.type !== "HELLO") throw new ProtocolError("HELLO_REQUIRED", "the first message must be HELLO");
    if (!SUPPORTED_VERSIONS.includes(message.version)) {
      throw new ProtocolError("UNSUPPORTED_VERSION", `protocol version ${message.version} is not supported; this server speaks ${SUPPORTED_VERSIONS.join(", ")}`, undefined, SUPPORTED_VERSIONS);
    }
    // P10a: the highest version both speak; a client that offers none (version 1) gets version 1.
    // HELLO.version is 1 (checked above), which every server speaks: there is always a common version.
    const agreed = agreedVersion(message.version, message.versions) ?? PROTOCOL_VERSION;
    await this.identified;
    if (this.closed) return;
    if (this.refusal) {
      this.ctx.refusalLog.warn("certificate refused at HELLO", { address: this.address, code: this.refusal.code, reason: this.refusal.reason });
      throw new ProtocolError(this.refusal.code, refusalMessage(this.refusal.code));
    }
    this.#state = "ready";
    this.#version = agreed;
    if (agreed >= PIPELINED_VERSION) this.pipeline = new PostPipeline((error) => this.fail(error), () => this.pipelineIdle());
    if (this.#identity) {
      // Membership (M12): last seen, coarse (one write a minute at most); a failure here costs the session nothing.
      this.ctx.store.touchUser(this.#identity.userId, Date.now(), LAST_SEEN_COARSE_MS).catch(() => {});
      this.ctx.metrics.authenticatedConnections++;
      this.subscribed = true;
      this.ctx.hub.subscribe(this);
      // (M23) The certificate's last use, for 'sis devices'; a failure here costs nothing but the date.
      this.ctx.store.touchCert(this.#identity.serial, Date.now()).catch(() => {});
    }
    this.send({
      type: "HELLO",
      protocol: PROTOCOL_NAME,
      version: agreed,
      server: `sis/${this.ctx.version}`,
      user: this.identity?.username ?? null,
      serial: this.identity?.serial ?? null,
      caCertificate: toBase64(this.ctx.ca.certDer),
      storageCertificate: toBase64(this.ctx.storageCertDer),
      limits: { maxControlFrame: MAX_CONTROL_FRAME, maxDataFrame: MAX_DATA_FRAME, maxImageSize: this.ctx.limits.maxImageSize },
    });
  }

  /** Reports an error to the peer; fatal ones close the connection (PROTOCOL.md section 5). */
  fail(error: unknown): void {
    if (this.closed) return;
    let pe: ProtocolError;
    if (error instanceof ProtocolError) pe = error;
    else {
      this.ctx.log.error("internal error", { address: this.address, error: error instanceof Error ? error.stack ?? error.message : String(error) });
      pe = new ProtocolError("INTERNAL", "the server hit an internal error; try again later");
    }
    this.ctx.metrics.refuse(pe.code);
    this.send({
      type: "ERROR", code: pe.code, message: pe.message.slice(0, 512),
      ...(pe.retryAfter !== undefined ? { retryAfter: pe.retryAfter } : {}),
      ...(pe.versions ? { versions: [...pe.versions] } : {}),
      // Only a version-2 connection has upload ids (P30); a version-1 client never sees the field.
      ...(pe.upload !== undefined && this.pipeline ? { upload: pe.upload } : {}),
    });
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
    const upload = this.upload;
    this.upload = null;
    void upload?.abort();
    void this.pipeline?.abortAll();
    this.payloads.clear();
    this.ctx.hub.unsubscribeSession(this);
    this.ctx.metrics.connections--;
    if (this.subscribed) this.ctx.metrics.authenticatedConnections--;
    if (this.admitted) this.ctx.hub.release(this.address);
  }
}

/** What every session hears when the server stops (O1); clients reconnect later (O3). */
export function shuttingDown(): ProtocolError {
  return new ProtocolError("SHUTTING_DOWN", "the server is shutting down or restarting; reconnect in a moment (a request it did not answer was not done)");
}
