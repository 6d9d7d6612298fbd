/** A client connection: TLS to the pinned CA, the HELLO exchange, one request at a time, pushes aside. */
import {
  CONTROL, DATA, PUSH_DATA, PUSH_DATA_PREFIX, decodeServerMessage, encodeData, encodeDataInPlace, encodeMessage, FrameDecoder, MAX_DATA_FRAME, Outbox,
  PROTOCOL_NAME, PROTOCOL_VERSION, ProtocolError, type ClientMessage, type Frame, type ImageMeta,
  type ServerMessage, type ServerMessageOf,
} from "../protocol/index.ts";
import { closedBecause, connectReason, isNetworkCode, serverTrustError } from "./close-reasons.ts";
import { ClientError, RemoteError } from "./errors.ts";
import { INBOUND_HIGH, InboundQueue, type Flow } from "./inbound-queue.ts";
import { rememberVersionOne, versionsFor } from "./offered-versions.ts";
import { PayloadPool } from "./payload-pool.ts";
import { Pushes, type IncomingListener } from "./pushes.ts";

// Importable from here as before the split.
export { serverTrustError } from "./close-reasons.ts";
export { offeredVersions } from "./offered-versions.ts";
export type { IncomingListener } from "./pushes.ts";
export { PUSH_HIGH } from "./inbound-queue.ts";

export interface ConnectOptions {
  host: string;
  port: number;
  /** The pinned CA (PEM). null only for first contact, to learn the CA's fingerprint. */
  caPem: string | null;
  certPem?: string;
  keyPem?: string;
  clientName?: string;
  timeoutMs?: number;
  /** The protocol versions to offer (P10a); by default every one this build speaks, or SIS_PROTOCOL_MAX's. */
  versions?: readonly number[];
}

const SEND_BACKLOG = 1024 * 1024;

type Sock = Awaited<ReturnType<typeof Bun.connect>>;

/** Most buffers kept for reuse: the inbound queue's depth in full data frames. */
const POOL_MAX = INBOUND_HIGH / MAX_DATA_FRAME;

export class Connection {
  hello!: ServerMessageOf<"HELLO">;
  /** Data and push data payloads; its `outstanding` is the push data the cut-through partials hold unwritten. */
  private readonly pool = new PayloadPool(MAX_DATA_FRAME + PUSH_DATA_PREFIX, POOL_MAX);
  // Control payloads are views of the buffers Bun passes to `data`: Bun allocates a fresh one
  // per callback and never touches it again (test/client/socket-data.test.ts), so a frame
  // queued here cannot change under its consumer. Data payloads are copied into pooled
  // buffers instead, so the 512 KiB socket buffers die at once and collect cheaply, and the
  // pool's buffers come back from consumers that are done with them (receiveData `transient`).
  // A socket buffer that only data payloads came from is freed at once (releaseChunks).
  // PUSH_DATA (P41, version 3) is accepted: a server of an earlier version never sends it. Its
  // payloads are copied into the pool's buffers as well (views kept the socket's buffers alive
  // as long as a partial queued them: the watcher's peak RSS for a 100 MiB image was 104–120 MiB),
  // and they come back when the partial has written them.
  private readonly decoder = new FrameDecoder({
    ownsChunks: true,
    releaseChunks: true,
    pushData: true,
    allocate: (kind, length) => (kind === DATA ? this.pool.take(length) : kind === PUSH_DATA ? this.pool.take(length, true) : null),
  });
  private ended: Error | null = null;
  private readonly inbound = new InboundQueue(() => this.socket as unknown as Flow, () => this.pool.outstanding, () => this.ended);
  private readonly pushes = new Pushes(this.pool, () => {
    if (this.inbound.isPaused) this.inbound.updateReading();
  });
  private readonly closeListeners = new Set<(error: Error) => void>();
  private outbox!: Outbox;
  private socket!: Sock;

  private constructor() {}

  /**
   * Connects and says HELLO, offering the versions this client speaks (P10a). A client that offers
   * only version 1 sends exactly the HELLO it always sent. A server of version 1 refuses the
   * offer (BAD_MESSAGE: its HELLO has no `versions`); the client then connects again with version
   * 1 alone and remembers the server for the rest of the process.
   */
  static async open(opts: ConnectOptions): Promise<Connection> {
    const where = `${opts.host}:${opts.port}`;
    const versions = versionsFor(where, opts.versions);
    const offer = versions.some((v) => v !== PROTOCOL_VERSION);
    try {
      return await Connection.openWith(opts, offer ? versions : null);
    } catch (error) {
      if (!(offer && error instanceof RemoteError && error.code === "BAD_MESSAGE")) throw error;
      rememberVersionOne(where);
      return Connection.openWith(opts, null);
    }
  }

  private static async openWith(opts: ConnectOptions, versions: readonly number[] | null): Promise<Connection> {
    const conn = new Connection();
    await conn.connect(opts);
    const hello: ClientMessage = { type: "HELLO", protocol: PROTOCOL_NAME, version: PROTOCOL_VERSION, client: opts.clientName ?? "sis", ...(versions ? { versions: [...versions] } : {}) };
    const reply = await conn.request(hello, opts.timeoutMs ?? 15_000);
    if (reply.type !== "HELLO") throw new ClientError(`cannot talk to the server: it answered ${reply.type} to HELLO`);
    // The server answers the highest version both speak; anything else is not a version this client can use.
    if (!(versions ?? [PROTOCOL_VERSION]).includes(reply.version)) {
      conn.close();
      throw new ClientError(`cannot talk to the server: it chose protocol version ${reply.version}, which this client did not offer; update sis`);
    }
    conn.hello = reply;
    return conn;
  }

  /** The protocol version agreed at HELLO (P10a). */
  get version(): number {
    return this.hello.version;
  }

  private connect(opts: ConnectOptions): Promise<void> {
    const verify = opts.caPem !== null;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => settle(new ClientError(`cannot connect to ${opts.host}:${opts.port}: timed out`)), opts.timeoutMs ?? 15_000);
      Bun.connect({
        hostname: opts.host,
        port: opts.port,
        tls: {
          // Only the pinned CA is trusted; never the system store (P2).
          ...(verify ? { ca: opts.caPem!, rejectUnauthorized: true } : { rejectUnauthorized: false }),
          ...(opts.certPem && opts.keyPem ? { cert: opts.certPem, key: opts.keyPem } : {}),
          serverName: "localhost",
        },
        socket: {
          handshake: (socket, success, error) => {
            clearTimeout(timer);
            // success can be true while an authorization error is set: check both (docs/IMPLEMENTATION.md I3).
            if (verify && (!success || error || !socket.authorized)) {
              // Settled first: Bun runs `close` synchronously inside terminate(), and its
              // ordinary "closed during the handshake" must not win over the refusal (P2).
              // A peer that hung up before its certificate was judged (ECONNRESET and the
              // like) is a network failure, not a verdict on a certificate.
              const cause = (error ?? (socket as unknown as { authorizationError?: Error }).authorizationError) as (Error & { code?: string }) | undefined;
              const failure = isNetworkCode(cause?.code)
                ? new ClientError(`cannot connect to ${opts.host}:${opts.port}: the connection closed during the handshake`)
                : serverTrustError(opts.host, opts.port, cause);
              settle(failure);
              this.finish(failure);
              socket.terminate();
              return;
            }
            this.socket = socket;
            this.outbox = new Outbox(socket);
            settle();
          },
          data: (_socket, bytes) => this.onData(bytes),
          drain: () => this.outbox?.flush(),
          close: () => {
            clearTimeout(timer);
            this.finish(closedBecause(this.inbound.pending));
            settle(new ClientError(`cannot connect to ${opts.host}:${opts.port}: the connection closed during the handshake`));
          },
          error: (_socket, error) => {
            this.finish(new ClientError(`connection error: ${error.message}`));
            settle(new ClientError(`cannot connect to ${opts.host}:${opts.port}: ${error.message}`));
          },
          connectError: (_socket, error) => {
            clearTimeout(timer);
            settle(new ClientError(`cannot connect to ${opts.host}:${opts.port}: ${connectReason(error)}; is 'sis serve' running there?`));
          },
        },
      }).catch((error: Error) => {
        clearTimeout(timer);
        settle(new ClientError(`cannot connect to ${opts.host}:${opts.port}: ${connectReason(error)}; is 'sis serve' running there?`));
      });
    });
  }

  /** The server's TLS certificate as presented (DER). */
  peerCertificate(): Uint8Array | null {
    const raw = (this.socket.getPeerCertificate() as { raw?: Uint8Array } | undefined)?.raw;
    return raw ? new Uint8Array(raw) : null;
  }

  onPush(listener: (image: ImageMeta) => void): () => void {
    this.pushes.images.add(listener);
    return () => this.pushes.images.delete(listener);
  }

  /** IMAGE_DELETED (M27) pushes. */
  onDeleted(listener: (image: ServerMessageOf<"IMAGE_DELETED">["image"]) => void): () => void {
    this.pushes.deletions.add(listener);
    return () => this.pushes.deletions.delete(listener);
  }

  /** Cut-through pushes (P41–P43) go to `listener`; null stops them. */
  onIncoming(listener: IncomingListener | null): void {
    this.pushes.incoming = listener;
  }

  onClose(listener: (error: Error) => void): void {
    this.closeListeners.add(listener);
  }

  get closed(): boolean {
    return this.ended !== null;
  }

  /** Bytes queued for the server that the socket has not taken yet. */
  get backlog(): number {
    return this.outbox.backlog;
  }

  private onData(bytes: Uint8Array): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(bytes);
    } catch (error) {
      this.finish(new ClientError(`the server sent an invalid frame: ${(error as Error).message}`));
      this.socket.terminate();
      return;
    }
    for (const frame of frames) if (!this.pushes.take(frame)) this.inbound.add(frame);
    this.inbound.added();
  }

  private finish(error: Error): void {
    if (this.ended) return;
    this.ended = error;
    // A closed socket never drains: release anyone waiting for the backlog (sendData), or they wait forever.
    this.outbox?.markClosed();
    this.inbound.wakeReader();
    for (const listener of this.closeListeners) listener(error);
  }

  private nextFrame(timeoutMs?: number): Promise<Frame> {
    return this.inbound.next(timeoutMs, () => this.finish(new ClientError("the server did not answer in time")));
  }

  /** The next control message; ERROR becomes a RemoteError. */
  async receive(timeoutMs?: number): Promise<ServerMessage> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame.kind !== CONTROL) throw new ClientError("the server sent data where a message was expected");
    let message: ServerMessage;
    try {
      message = decodeServerMessage(frame.payload);
    } catch (error) {
      throw new ClientError(`the server sent an invalid message: ${(error as ProtocolError).message}`);
    }
    if (message.type === "ERROR") throw new RemoteError(message.code, message.message, message.retryAfter, message.upload);
    return message;
  }

  send(message: ClientMessage): void {
    if (this.ended) throw this.ended;
    this.outbox.send(encodeMessage(message));
  }

  async request(message: ClientMessage, timeoutMs?: number): Promise<ServerMessage> {
    this.send(message);
    return this.receive(timeoutMs);
  }

  async expect<T extends ServerMessage["type"]>(message: ClientMessage, type: T): Promise<ServerMessageOf<T>> {
    const reply = await this.request(message);
    if (reply.type !== type) throw new ClientError(`the server answered ${reply.type} where ${type} was expected`);
    return reply as ServerMessageOf<T>;
  }

  /** Sends bytes as data frames, waiting for the socket when it is behind. */
  async sendData(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; offset += MAX_DATA_FRAME) {
      if (this.ended) throw this.ended;
      this.outbox.send(encodeData(bytes.subarray(offset, offset + MAX_DATA_FRAME)));
    }
    await this.outbox.below(SEND_BACKLOG);
    if (this.ended) throw this.ended;
  }

  /**
   * Sends one data frame built in place: `frame` has FRAME_HEADER_SIZE free bytes, then the
   * payload. The frame is queued as it is (not copied) if the socket does not take it at once,
   * so the caller must not change it afterwards.
   */
  async sendDataFrame(frame: Uint8Array): Promise<void> {
    if (this.ended) throw this.ended;
    this.outbox.send(encodeDataInPlace(frame));
    await this.outbox.below(SEND_BACKLOG);
    if (this.ended) throw this.ended;
  }

  /**
   * The `size` bytes of data frames that follow a reply. If the consumer stops
   * early the rest is drained, so the connection stays usable. With `transient`,
   * a yielded payload is valid only until the consumer asks for the next one
   * (its buffer then goes back to the pool): for consumers that are done with
   * each piece by then, such as openStream.
   */
  async *receiveData(size: number, { transient = false } = {}): AsyncGenerator<Uint8Array> {
    let left = size;
    const done = (payload: Uint8Array) => {
      if (transient) this.pool.give(payload);
    };
    try {
      while (left > 0) {
        const frame = await this.nextFrame();
        if (frame.kind === CONTROL) {
          const message = decodeServerMessage(frame.payload);
          if (message.type === "ERROR") throw new RemoteError(message.code, message.message);
          throw new ClientError(`the server sent ${message.type} inside a data stream`);
        }
        if (frame.kind !== DATA || frame.payload.length > left) throw new ClientError("the server sent more data than it announced");
        left -= frame.payload.length;
        yield frame.payload;
        done(frame.payload);
      }
    } finally {
      while (left > 0 && !this.ended) {
        const frame = await this.nextFrame();
        if (frame.kind !== DATA) break;
        left -= frame.payload.length;
        done(frame.payload);
      }
    }
  }

  close(): void {
    this.finish(new ClientError("connection closed"));
    try {
      this.socket?.end();
    } catch {
      // already gone
    }
  }
}

