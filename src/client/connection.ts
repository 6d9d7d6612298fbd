/** A client connection: TLS to the pinned CA, the HELLO exchange, one request at a time, pushes aside. */
import {
  CONTROL, DATA, PUSH_DATA, PUSH_DATA_PREFIX, decodeServerMessage, encodeData, encodeDataInPlace, encodeMessage, FrameDecoder, MAX_DATA_FRAME, Outbox,
  PROTOCOL_NAME, PROTOCOL_VERSION, PROTOCOL_VERSIONS, ProtocolError, type ClientMessage, type Frame, type ImageMeta,
  type ServerMessage, type ServerMessageOf,
} from "../protocol/index.ts";
import { ClientError, RemoteError, TrustError } from "./errors.ts";
import { PayloadPool } from "./payload-pool.ts";

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

/**
 * Servers (host:port) that refused HELLO.versions with BAD_MESSAGE: a server of version 1, whose
 * HELLO schema has no such field. Later connections of this process offer it version 1 at once.
 */
const versionOneServers = new Set<string>();

/** What a client offers (P10a): every version it speaks; SIS_PROTOCOL_MAX=1 limits it (comparisons, benchmarks). */
export function offeredVersions(): readonly number[] {
  const max = Number(process.env.SIS_PROTOCOL_MAX ?? Number.POSITIVE_INFINITY);
  const offered = PROTOCOL_VERSIONS.filter((v) => v <= max);
  return offered.length > 0 ? offered : [PROTOCOL_VERSION];
}

const INBOUND_HIGH = 4 * 1024 * 1024;
const INBOUND_LOW = 1024 * 1024;
const SEND_BACKLOG = 1024 * 1024;

type Sock = Awaited<ReturnType<typeof Bun.connect>>;

/** Most buffers kept for reuse: the inbound queue's depth in full data frames. */
const POOL_MAX = INBOUND_HIGH / MAX_DATA_FRAME;

/**
 * Push data (P41) taken off the socket and not yet decrypted and written by the cut-through
 * partials: above PUSH_HIGH the connection stops reading until they are down to PUSH_LOW (P44).
 * So a watcher holds at most this much of a delivery however fast it comes; a watcher that stays
 * behind is dropped by the server (P45) and downloads the image instead. Measured (bench/README.md,
 * *Issue 17: the watcher's memory and start-up*), peak RSS of a watch per 100 MiB cut-through:
 * 77–80 MiB at 1 MiB, 89–91 MiB at 4 MiB, 77–105 at 16 MiB; as many deliveries completed at 1 MiB
 * as at 16 (the kernel's socket buffers and the server's 4 MiB absorb a watcher's pauses).
 */
export const PUSH_HIGH = 1024 * 1024;
const PUSH_LOW = 512 * 1024;

/** Who takes the cut-through pushes of a connection (P41–P43): called synchronously, in frame order. */
export interface IncomingListener {
  incoming(message: ServerMessageOf<"INCOMING">): void;
  /**
   * `bytes` is the listener's until it calls `release` (then its buffer is reused): a view of a
   * buffer nothing else uses. Every chunk must be released, read or not: the connection stops
   * reading while PUSH_HIGH bytes are unreleased.
   */
  data(delivery: number, bytes: Uint8Array, release: () => void): void;
  delivered(message: ServerMessageOf<"DELIVERED">): void;
  dropped(message: ServerMessageOf<"DROPPED">): void;
}

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
  private readonly frames: Frame[] = [];
  private queued = 0;
  /** The socket is paused: by a full inbound queue, by unwritten push data, or both. */
  private paused = false;
  private wake: (() => void) | null = null;
  private ended: Error | null = null;
  private readonly pushListeners = new Set<(image: ImageMeta) => void>();
  private readonly deleteListeners = new Set<(image: ServerMessageOf<"IMAGE_DELETED">["image"]) => void>();
  private readonly closeListeners = new Set<(error: Error) => void>();
  /** Version 3 (P41–P43): INCOMING, PUSH_DATA, DELIVERED, DROPPED; without one they are ignored. */
  private incomingListener: IncomingListener | null = null;
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
    const versions = versionOneServers.has(where) ? [PROTOCOL_VERSION] : (opts.versions ?? offeredVersions());
    const offer = versions.some((v) => v !== PROTOCOL_VERSION);
    try {
      return await Connection.openWith(opts, offer ? versions : null);
    } catch (error) {
      if (!(offer && error instanceof RemoteError && error.code === "BAD_MESSAGE")) throw error;
      versionOneServers.add(where);
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
            this.finish(this.closedBecause());
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
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** IMAGE_DELETED (M27) pushes. */
  onDeleted(listener: (image: ServerMessageOf<"IMAGE_DELETED">["image"]) => void): () => void {
    this.deleteListeners.add(listener);
    return () => this.deleteListeners.delete(listener);
  }

  /** Cut-through pushes (P41–P43) go to `listener`; null stops them. */
  onIncoming(listener: IncomingListener | null): void {
    this.incomingListener = listener;
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
    for (const frame of frames) {
      if (frame.kind === PUSH_DATA) {
        this.dispatchPushData(frame.payload);
        continue;
      }
      if (frame.kind === CONTROL && this.dispatchPush(frame)) continue;
      this.frames.push(frame);
      this.queued += frame.payload.length;
    }
    this.updateReading();
    this.wake?.();
  }

  /** Reads the socket only while the inbound queue and the unwritten push data are within bounds. */
  private updateReading(): void {
    const full = this.paused ? this.queued >= INBOUND_LOW || this.pool.outstanding > PUSH_LOW : this.queued > INBOUND_HIGH || this.pool.outstanding > PUSH_HIGH;
    if (full === this.paused || this.ended) return;
    this.paused = full;
    const socket = this.socket as unknown as { pause(): void; resume(): void };
    if (full) socket.pause();
    else socket.resume();
  }

  /** A PUSH_DATA frame (P41): its delivery number, then ciphertext. */
  private dispatchPushData(payload: Uint8Array): void {
    const listener = this.incomingListener;
    // No bytes (a hostile server's frame) or nobody taking them: nothing to deliver.
    if (payload.length <= PUSH_DATA_PREFIX || !listener) return this.pool.give(payload);
    const delivery = new DataView(payload.buffer, payload.byteOffset, PUSH_DATA_PREFIX).getUint32(0, false);
    let released = false;
    listener.data(delivery, payload.subarray(PUSH_DATA_PREFIX), () => {
      // Once only: a second call must not give back the buffer after it was taken again.
      if (released) return;
      released = true;
      this.pool.give(payload);
      if (this.paused) this.updateReading();
    });
  }

  /** NEW_IMAGE and IMAGE_DELETED may arrive between any two frames (PROTOCOL.md section 4, M27); so may INCOMING, DELIVERED and DROPPED (P41–P43). */
  private dispatchPush(frame: Frame): boolean {
    // Cheap pre-check before JSON parsing: pushes are the only messages with these types.
    const p = frame.payload;
    const head = Buffer.from(p.buffer, p.byteOffset, Math.min(40, p.length)).toString("latin1");
    const cutThrough = head.includes("\"INCOMING\"") || head.includes("\"DELIVERED\"") || head.includes("\"DROPPED\"");
    if (cutThrough) {
      let pushed: ServerMessage;
      try {
        pushed = decodeServerMessage(p);
      } catch {
        return false;
      }
      const listener = this.incomingListener;
      if (pushed.type === "INCOMING") listener?.incoming(pushed);
      else if (pushed.type === "DELIVERED") listener?.delivered(pushed);
      else if (pushed.type === "DROPPED") listener?.dropped(pushed);
      else return false;
      return true;
    }
    if (p.length > 4096) return false;
    if (!head.includes("NEW_IMAGE") && !head.includes("IMAGE_DELETED")) return false;
    let message: ServerMessage;
    try {
      message = decodeServerMessage(frame.payload);
    } catch {
      return false;
    }
    if (message.type === "IMAGE_DELETED") {
      for (const listener of this.deleteListeners) listener(message.image);
      return true;
    }
    if (message.type !== "NEW_IMAGE") return false;
    for (const listener of this.pushListeners) listener(message.image);
    return true;
  }

  /**
   * Why the server closed: a fatal ERROR it sent last (still queued for the reader) is the
   * reason, so a sender that finds the socket closed first (a pipelined upload, P30) reports
   * STORAGE_FAILED and not a bare "closed" (test/security/resources.test.ts, a full disk).
   */
  private closedBecause(): Error {
    for (const frame of this.frames) {
      if (frame.kind !== CONTROL) continue;
      try {
        const m = decodeServerMessage(frame.payload);
        if (m.type === "ERROR") return new RemoteError(m.code, m.message, m.retryAfter, m.upload);
      } catch {
        // not a message: the plain reason stands
      }
    }
    return new ClientError("the server closed the connection");
  }

  private finish(error: Error): void {
    if (this.ended) return;
    this.ended = error;
    // A closed socket never drains: release anyone waiting for the backlog (sendData), or they wait forever.
    this.outbox?.markClosed();
    this.wake?.();
    for (const listener of this.closeListeners) listener(error);
  }

  private async nextFrame(timeoutMs?: number): Promise<Frame> {
    while (this.frames.length === 0) {
      if (this.ended) throw this.ended;
      await new Promise<void>((resolve) => {
        const timer = timeoutMs ? setTimeout(() => this.finish(new ClientError("the server did not answer in time")), timeoutMs) : null;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    const frame = this.frames.shift()!;
    this.queued -= frame.payload.length;
    if (this.paused) this.updateReading();
    return frame;
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

/** errno-style codes (ECONNRESET, EPIPE…): the network failed; certificate verdicts have other codes (CERT_HAS_EXPIRED…). */
function isNetworkCode(code: string | undefined): boolean {
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** Certificate problems OpenSSL reports for a peer whose certificate is out of its validity period. */
const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "ERR_TLS_CERT_HAS_EXPIRED", "ERR_TLS_CERT_NOT_YET_VALID"]);

/**
 * The refusal of a server whose certificate does not verify against the pinned CA (P2): exit 3,
 * the likely causes and what to do, never a network error that invites retrying.
 */
export function serverTrustError(host: string, port: number, error: (Error & { code?: string }) | undefined): TrustError {
  const where = `cannot trust the server at ${host}:${port}: its certificate`;
  const code = error?.code ?? "";
  const expired = EXPIRY_CODES.has(code) || /expired|not yet valid/i.test(error?.message ?? "");
  if (expired) return new TrustError("server", `${where} has expired or is not valid yet (check this computer's clock; if it is right, ask the operator to renew the server certificate)`);
  return new TrustError(
    "server",
    `${where} is not from the pinned CA (someone may be intercepting the connection, or the server's CA changed); do not send anything to it, ask the operator whether the CA changed, and if it did, register again with the new CA fingerprint`,
  );
}

/** Socket errors in words a person reads (Bun says "Failed to connect" for a refused port). */
function connectReason(error: Error & { code?: string }): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
      return "no such host";
    case "ETIMEDOUT":
      return "timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    default:
      return error.message.replace(/^Failed to connect$/, "connection refused").replace(/^getaddrinfo ENOTFOUND .*/, "no such host");
  }
}
