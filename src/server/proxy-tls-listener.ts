/**
 * A TLS listener that takes a PROXY protocol header from trusted balancers first
 * (docs/SCALING.md); `sis serve --proxy-from` runs its protocol port on it
 * (src/server/proxied-transport.ts).
 *
 * Why node:net + node:tls: the header arrives before the ClientHello, often
 * in the same TCP segment. Bun.listen({ tls }) expects the ClientHello at
 * once; Bun.listen without tls and then socket.upgradeTLS() (server side)
 * completes the handshake only when the header came alone: the ClientHello
 * bytes already read with the header cannot be handed to the TLS layer, and
 * the handshake stalls. node:net lets us read the header, unshift() the rest
 * back, and start a server-side tls.TLSSocket on the same socket; client
 * certificates (requestCert) and TLS 1.3 work (test/server/proxy-tls-listener.test.ts).
 *
 * PX4  A connection from a balancer address must start with a header (a
 *      missing or malformed one closes it); a connection from any other
 *      address must not (a PROXY header from it closes it: anyone could
 *      claim any address). A header must be complete within headerTimeoutMs.
 */
import net from "node:net";
import tls from "node:tls";
import { MAX_HEADER_LENGTH, parseProxyHeader } from "./proxy-protocol.ts";

export interface ClientAddress {
  address: string;
  port: number;
  /** True when the address came from a balancer's PROXY header. */
  proxied: boolean;
}

/** Why a connection was refused before TLS: stable words for a rate-limited log (PX4). */
export type ProxyRefusal = "forged" | "missing" | "timeout";

export interface ProxyTlsOptions {
  host: string;
  port: number;
  /** Addresses (as the socket reports them, IPv4-mapped IPv6 as a dotted quad) allowed to send a PROXY header. */
  balancers: ReadonlySet<string>;
  key: string;
  cert: string;
  /** CA for client certificates; with it alone, a client certificate is required. */
  ca?: string;
  /** Ask for a client certificate (default: when `ca` is given). */
  requestCert?: boolean;
  /** Refuse a client without a valid certificate in TLS itself (default: when `ca` is given). */
  rejectUnauthorized?: boolean;
  headerTimeoutMs?: number;
  /** The TLS socket, as soon as the header has been accepted (before the handshake). */
  onTls?(socket: tls.TLSSocket, client: ClientAddress): void;
  /** The handshake completed. */
  onSecure?(socket: tls.TLSSocket, client: ClientAddress): void;
  /** Why a connection was refused before TLS (for the log and the tests); `kind` is stable, `reason` may carry details. */
  onRefused?(reason: string, from: string, kind: ProxyRefusal): void;
}

export interface ProxyTlsListener {
  readonly port: number;
  /** RN8: new connections use this certificate from now on; open ones keep theirs. */
  setSecureContext(o: { key: string; cert: string; ca?: string }): void;
  /** Accepts no new connection; open ones stay (a shutdown drains them, O1). */
  stopAccepting(): void;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}

const V2_FIRST = 0x0d;
const V1_FIRST = 0x50; // "P"; a TLS record starts with 0x16

/** Strips the "::ffff:" of an IPv4-mapped address so it compares with a dotted quad. */
function plain(address: string | undefined): string {
  const a = address ?? "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

export async function listenProxiedTls(o: ProxyTlsOptions): Promise<ProxyTlsListener> {
  const contextOf = (m: { key: string; cert: string; ca?: string }) =>
    tls.createSecureContext({ key: m.key, cert: m.cert, ...(m.ca ? { ca: m.ca } : {}), minVersion: "TLSv1.3" });
  let context = contextOf(o);
  const requestCert = o.requestCert ?? !!o.ca;
  const rejectUnauthorized = o.rejectUnauthorized ?? !!o.ca;
  const timeout = o.headerTimeoutMs ?? 5000;
  /**
   * Every connection, raw until its header is read, then its TLS socket: Bun's TLSSocket takes
   * the raw socket over (that one reports closed), so close() must end the TLS socket itself.
   */
  const sockets = new Set<net.Socket>();
  let accepting = true;

  const startTls = (sock: net.Socket, rest: Uint8Array, client: ClientAddress) => {
    if (rest.byteLength > 0) sock.unshift(Buffer.from(rest));
    const secure = new tls.TLSSocket(sock, { isServer: true, secureContext: context, requestCert, rejectUnauthorized });
    sockets.add(secure);
    secure.once("close", () => sockets.delete(secure));
    secure.on("error", () => secure.destroy());
    o.onTls?.(secure, client);
    secure.once("secure", () => o.onSecure?.(secure, client));
  };

  const server = net.createServer((sock) => {
    // A connection accepted just as the listener stopped (close() does not cut those).
    if (!accepting) return void sock.destroy();
    // No address: the peer reset before we looked (HAProxy's own probes do). Nothing to decide or log.
    if (!sock.remoteAddress) return void sock.destroy();
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
    const from = plain(sock.remoteAddress);
    const fromBalancer = o.balancers.has(from);
    let buffered: Buffer = Buffer.alloc(0);
    const refuse = (reason: string, kind: ProxyRefusal) => {
      o.onRefused?.(reason, from, kind);
      sock.destroy();
    };
    // A balancer's whole header, or anyone else's first byte (which decides at once), must come within it.
    const timer = setTimeout(() => refuse(`no PROXY header within ${timeout} ms`, "timeout"), timeout);
    const onData = (chunk: Buffer) => {
      buffered = buffered.byteLength === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!fromBalancer) {
        const first = buffered[0];
        const finish = () => {
          clearTimeout(timer);
          sock.off("data", onData);
          sock.pause();
        };
        if (first === V2_FIRST || first === V1_FIRST) {
          finish();
          return refuse("a PROXY header from an address that is not a balancer", "forged");
        }
        finish();
        return startTls(sock, buffered, { address: from, port: sock.remotePort ?? 0, proxied: false });
      }
      const parsed = parseProxyHeader(buffered.byteLength > MAX_HEADER_LENGTH ? buffered.subarray(0, MAX_HEADER_LENGTH) : buffered);
      if (parsed.kind === "incomplete") return;
      clearTimeout(timer);
      sock.off("data", onData);
      sock.pause();
      if (parsed.kind === "invalid") return refuse(`a balancer sent no valid PROXY header: ${parsed.reason}`, "missing");
      const client: ClientAddress = parsed.source
        ? { address: parsed.source.address, port: parsed.source.port, proxied: true }
        : { address: from, port: sock.remotePort ?? 0, proxied: false };
      startTls(sock, buffered.subarray(parsed.length), client);
    };
    sock.on("data", onData);
    sock.on("error", () => sock.destroy());
    sock.once("close", () => clearTimeout(timer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const stopAccepting = () => {
    if (!accepting) return;
    accepting = false;
    server.close();
  };
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    setSecureContext: (m) => void (context = contextOf(m)),
    stopAccepting,
    close: async () => {
      stopAccepting();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
