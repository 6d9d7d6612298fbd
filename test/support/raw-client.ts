/** A raw TLS client for hostile tests and bench/fuzz-connections.ts: sends any bytes, reads frames, optionally with a client certificate. */
import net from "node:net";
import tls from "node:tls";
import { CONTROL, decodeServerMessage, encodeMessage, FrameDecoder, type Frame, type ServerMessage } from "../../src/protocol/index.ts";

/** An ERROR the server sent. */
export type ErrorReply = Extract<ServerMessage, { type: "ERROR" }>;

export interface RawClient extends AsyncDisposable {
  write(bytes: Uint8Array | string): void;
  /** The next frame, data frames included, or null once the server closed and everything before was read. */
  frame(timeoutMs?: number): Promise<Frame | null>;
  /** The next control message (throws on a data frame), or null if the server closed the connection first. */
  next(timeoutMs?: number): Promise<ServerMessage | null>;
  hello(): Promise<ServerMessage | null>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  /** Ends the connection politely (TLS close_notify, then FIN). */
  close(): void;
  /** Drops the connection at once, unread bytes and all. */
  destroy(): void;
  /** What the server sent that is not well-formed framing (the frames before it are still read). */
  frameErrors: string[];
}

export interface RawConnectOptions {
  certPem?: string;
  keyPem?: string;
  caPem?: string;
  /** The source address to connect from (any of 127.0.0.0/8 on Linux), for per-address limits. */
  localAddress?: string;
  /** Bytes sent in clear before the TLS ClientHello: a PROXY header, as a balancer would send it. */
  before?: Uint8Array;
}

export async function rawConnect(port: number, opts: RawConnectOptions = {}): Promise<RawClient> {
  // Push data (kind 0x03, version 3) is read too: hostile tests look at what a watcher is sent.
  const decoder = new FrameDecoder({ pushData: true });
  const frames: Frame[] = [];
  const frameErrors: string[] = [];
  let wake: (() => void) | null = null;
  let isClosed = false;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  // node:tls rather than Bun.connect: it can choose the source address (localAddress reaches
  // net.connect underneath; it is not in @types/node's TLS options).
  const options = {
    host: "127.0.0.1", port, rejectUnauthorized: false,
    ...(opts.certPem ? { cert: opts.certPem, key: opts.keyPem } : {}),
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  } as tls.ConnectionOptions;
  // With bytes to send first, TLS starts on a TCP socket that has sent them.
  const tcp = opts.before
    ? await new Promise<net.Socket>((resolve, reject) => {
        const t = net.connect({ host: "127.0.0.1", port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, () => {
          t.write(opts.before!);
          resolve(t);
        });
        t.once("error", reject);
      })
    : null;
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect(tcp ? { ...options, socket: tcp } : options, () => resolve(s));
    s.on("data", (chunk: Buffer) => {
      try {
        frames.push(...decoder.push(new Uint8Array(chunk)));
      } catch (error) {
        // the test inspects what arrived before
        frameErrors.push(`bad frame from the server: ${(error as Error).message}`);
      }
      wake?.();
    });
    s.on("close", () => {
      isClosed = true;
      closedResolve();
      wake?.();
    });
    s.on("error", () => {});
    s.once("error", reject);
  });
  const frame = async (timeoutMs = 10_000): Promise<Frame | null> => {
    const deadline = Date.now() + timeoutMs;
    while (frames.length === 0) {
      if (isClosed) return null;
      if (Date.now() > deadline) throw new Error("no frame from the server in time");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return frames.shift()!;
  };
  const next = async (timeoutMs?: number): Promise<ServerMessage | null> => {
    const f = await frame(timeoutMs);
    if (f === null) return null;
    if (f.kind !== CONTROL) throw new Error(`expected a control frame, got a data frame of ${f.payload.length} bytes`);
    return decodeServerMessage(f.payload);
  };
  const client: RawClient = {
    write: (bytes) => void socket.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes),
    frame,
    next,
    async hello() {
      client.write(encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "raw-test" }));
      return next();
    },
    closed,
    close: () => void socket.end(),
    destroy: () => void socket.destroy(),
    frameErrors,
    [Symbol.asyncDispose]: async () => void socket.end(),
  };
  return client;
}
