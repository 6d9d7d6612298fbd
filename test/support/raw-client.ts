/** A raw TLS client for hostile tests: sends any bytes, reads frames, optionally with a client certificate. */
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
  close(): void;
}

export async function rawConnect(port: number, opts: { certPem?: string; keyPem?: string; caPem?: string } = {}): Promise<RawClient> {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let wake: (() => void) | null = null;
  let isClosed = false;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const socket = await new Promise<Awaited<ReturnType<typeof Bun.connect>>>((resolve, reject) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls: { rejectUnauthorized: false, ...(opts.certPem ? { cert: opts.certPem, key: opts.keyPem } : {}) },
      socket: {
        handshake: (s) => resolve(s),
        data: (_s, bytes) => {
          try {
            frames.push(...decoder.push(bytes));
          } catch {
            // the test inspects what arrived before
          }
          wake?.();
        },
        close: () => {
          isClosed = true;
          closedResolve();
          wake?.();
        },
        connectError: (_s, e) => reject(e),
        error: () => {},
      },
    }).catch(reject);
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
    [Symbol.asyncDispose]: async () => void socket.end(),
  };
  return client;
}
