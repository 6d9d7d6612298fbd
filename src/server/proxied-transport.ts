/**
 * The protocol port behind a balancer (--proxy-from, PX4, PX5): proxy-tls-listener.ts reads the
 * PROXY header, then node:tls runs the handshake; this adapts its TLSSocket to the SessionSocket
 * a session writes to, so session.ts runs unchanged over either transport.
 */
import type tls from "node:tls";
import type { ServerContext } from "./context.ts";
import { listenProxiedTls, type ClientAddress, type ProxyRefusal } from "./proxy-tls-listener.ts";
import type { Session, SessionSocket } from "./session.ts";
import type { ConnectionEvents, TlsMaterial, Transport } from "./transport.ts";

/** What the log says of each refusal: a fixed message per kind, so the rate limit groups them (log-limiter.ts). */
const REFUSED: Record<ProxyRefusal, string> = {
  forged: "connection refused: a PROXY header from an address that is not a --proxy-from balancer (PX4)",
  missing: "connection refused: a --proxy-from balancer sent no valid PROXY header (PX4)",
  timeout: "connection refused: a --proxy-from balancer sent no complete PROXY header in time (PX4)",
};

/** A balancer's whole header (108 bytes for v1, 16 + 2048 at most for v2) comes in its first segment; 5 s is generous. */
const HEADER_TIMEOUT_MS = 5_000;

/**
 * The session's view of a node:tls socket. Bun's socket.write() returns the bytes it took (0 when
 * its buffer is full) and copies them; node's write() takes everything and keeps a reference until
 * sent. So: nothing is taken while node waits for 'drain' (the Outbox queues it, its backlog bounds
 * the session's memory as with Bun, and 'drain' flushes it), and what is taken is copied, because
 * send-blob.ts reuses a frame buffer as soon as the Outbox no longer holds it.
 */
export function sessionSocket(secure: tls.TLSSocket, client: ClientAddress): SessionSocket {
  return {
    remoteAddress: client.address,
    write(data) {
      if (secure.destroyed || secure.writableNeedDrain) return 0;
      secure.write(Buffer.from(data));
      return data.byteLength;
    },
    end: () => void secure.end(),
    terminate: () => void secure.destroy(),
    pause: () => void secure.pause(),
    resume: () => void secure.resume(),
  };
}

export async function listenProxied(
  ctx: ServerContext,
  events: ConnectionEvents,
  opts: { hostname: string; port: number; tls: TlsMaterial; balancers: readonly string[] },
): Promise<Transport> {
  const listener = await listenProxiedTls({
    host: opts.hostname,
    port: opts.port,
    balancers: new Set(opts.balancers),
    key: opts.tls.keyPem,
    cert: opts.tls.certPem,
    ca: opts.tls.caPem,
    // As on Bun's listener: ask for a certificate, never refuse in TLS; identify() decides (P4).
    requestCert: true,
    rejectUnauthorized: false,
    headerTimeoutMs: HEADER_TIMEOUT_MS,
    onTls(secure, client) {
      const session: Session = events.open(sessionSocket(secure, client));
      secure.on("secure", () => {
        // The DER of the certificate presented, or nothing (getPeerCertificate() is {} then).
        const raw = (secure.getPeerCertificate() as { raw?: Uint8Array } | null)?.raw;
        events.handshake(session, raw && raw.length > 0 ? new Uint8Array(raw) : null);
      });
      secure.on("data", (chunk: Buffer) => session.onData(chunk));
      secure.on("drain", () => session.onDrain());
      secure.on("error", (error: Error) => events.error(client.address, error));
      secure.once("close", () => events.close(session));
    },
    onRefused(reason, from, kind) {
      ctx.metrics.refuse("PROXY_REFUSED");
      ctx.refusalLog.warn(REFUSED[kind], { address: from, reason });
    },
  });
  return {
    port: listener.port,
    hostname: opts.hostname,
    // RN8: one listener; its secure context is swapped for the connections that come next.
    replaceTls: (tls) => listener.setSecureContext({ key: tls.keyPem, cert: tls.certPem, ca: tls.caPem }),
    stopAccepting: () => listener.stopAccepting(),
    stop: () => listener.close(),
  };
}
