/** The protocol port: TLS 1.3, optional client certificates, one Session per socket; Bun.listen, or the PROXY-aware listener behind a balancer. */
import type { Socket } from "bun";
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { RevocationWatch } from "./revocation-watch.ts";
import { listenProxied } from "./proxied-transport.ts";
import type { ConnectionEvents, TlsMaterial, Transport } from "./transport.ts";
import { Session, shuttingDown, type SessionSocket } from "./session.ts";

/** TLS 1.3 is 0x0304; Bun takes the number, not "TLSv1.3" (docs/IMPLEMENTATION.md I2). */
const TLS_1_3 = 0x0304;
const SWEEP_INTERVAL_MS = 1_000;

export interface ProtocolServer {
  readonly port: number;
  readonly hostname: string;
  sessions(): number;
  /** RN8: new connections get `tls` from now on; open sessions keep theirs (each transport says how). */
  replaceTls(tls: TlsMaterial): void;
  /** Stops accepting and drains every session within `graceMs` (O1, O2); the counts are for the log. */
  shutdown(graceMs: number): Promise<DrainReport>;
  stop(): Promise<void>;
}

export interface DrainReport {
  /** Sessions open when the shutdown began. */
  sessions: number;
  /** Uploads under way when it began, and how many of them were still under way at the end of the grace period (aborted). */
  uploads: number;
  aborted: number;
}

/** After the grace period, closed sessions get this long to flush their ERROR (Session.close ends a socket within 2 s). */
const FLUSH_MS = 3_000;

export interface ProtocolServerOptions {
  hostname: string;
  port: number;
  tls: TlsMaterial;
  /**
   * Balancer addresses allowed to send a PROXY header (--proxy-from, PX4). Empty or absent: Bun's
   * TLS listener, no header read. Otherwise the PROXY-aware listener (proxied-transport.ts).
   */
  proxyFrom?: readonly string[];
}

/** Starts the protocol port; a port that cannot be bound rejects (EADDRINUSE and the like, as an error with `code`). */
export async function startProtocolServer(ctx: ServerContext, opts: ProtocolServerOptions): Promise<ProtocolServer> {
  const sessions = new Set<Session>();
  /** Woken when the last session closes (a shutdown waits for it). */
  let onEmpty: (() => void) | null = null;
  const emptied = (ms: number) =>
    new Promise<void>((resolve) => {
      if (sessions.size === 0 || ms <= 0) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        onEmpty = null;
        resolve();
      }
      onEmpty = done;
    });
  const events: ConnectionEvents = {
    open(socket) {
      const session = new Session(ctx, socket);
      ctx.metrics.connections++;
      session.admitted = ctx.hub.admit(session.address, ctx.limits.maxConnectionsPerAddress);
      if (!session.admitted) {
        session.fail(new ProtocolError("TOO_MANY_CONNECTIONS", "too many connections from your address; close some and retry"));
        return session;
      }
      sessions.add(session);
      ctx.log.debug("connection opened", { address: session.address, connections: sessions.size });
      return session;
    },
    handshake(session, peerCertDer) {
      if (session.state === "closed") return;
      session.onHandshake(peerCertDer);
    },
    close(session) {
      sessions.delete(session);
      if (sessions.size === 0) onEmpty?.();
      // The peer left before its HELLO: what a client that does not trust our CA does (P2).
      if (session.state === "hello" && session.admitted) {
        ctx.refusalLog.warn("connection closed before HELLO (a client that does not trust this server's CA, e.g. one registered with a server using another data directory, closes like this)", { address: session.address });
      }
      session.onClose();
    },
    error(address, error) {
      ctx.refusalLog.warn("socket error", { address, error: error.message });
    },
  };
  const transport = opts.proxyFrom && opts.proxyFrom.length > 0
    ? await listenProxied(ctx, events, { hostname: opts.hostname, port: opts.port, tls: opts.tls, balancers: opts.proxyFrom })
    : listenBun(events, opts);

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const session of sessions) {
      if (session.state !== "closed" && now > session.deadline) {
        session.fail(new ProtocolError("TIMEOUT", "the connection was idle for too long"));
      }
    }
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  // A revocation ends that certificate's open sessions within one check interval (P5a).
  const revocations = new RevocationWatch(ctx, () => sessions);
  const revocationTimer = setInterval(() => {
    revocations.check().catch((error) => ctx.log.error("cannot check revocations", { error: String(error) }));
  }, ctx.limits.revocationCheckMs);
  revocationTimer.unref();

  const server: ProtocolServer = {
    port: transport.port,
    hostname: transport.hostname,
    sessions: () => sessions.size,
    replaceTls: (tls) => transport.replaceTls(tls),
    async shutdown(graceMs) {
      // No new connections (nor on a listener retired by replaceTls); the open ones stay until they have drained.
      transport.stopAccepting();
      const report: DrainReport = { sessions: sessions.size, uploads: [...sessions].filter((s) => s.uploading).length, aborted: 0 };
      for (const session of sessions) session.drain();
      await emptied(graceMs);
      for (const session of sessions) {
        if (session.uploading) report.aborted++;
        session.fail(shuttingDown());
      }
      await emptied(FLUSH_MS);
      await server.stop();
      return report;
    },
    async stop() {
      clearInterval(sweeper);
      clearInterval(revocationTimer);
      await transport.stop();
      for (const session of sessions) session.onClose();
      sessions.clear();
    },
  };
  return server;
}

/** Bun's TLS listener: the default, and the fast path (no PROXY header is read). */
function listenBun(events: ConnectionEvents, opts: { hostname: string; port: number; tls: TlsMaterial }): Transport {
  const handlers: Bun.SocketHandler<{ session?: Session }> = {
    open(socket) {
      socket.data = { session: events.open(socket as unknown as SessionSocket) };
    },
    handshake(socket, _success, _error) {
      const session = socket.data?.session;
      if (!session) return;
      // getPeerX509Certificate() wraps the DER (~8 µs); getPeerCertificate() builds
      // a whole description object with fingerprints (~50 µs) that we never read.
      // undefined (despite its type) when the client presented no certificate.
      const peer = socket.getPeerX509Certificate() as { raw?: Uint8Array } | undefined;
      events.handshake(session, peer?.raw && peer.raw.length > 0 ? new Uint8Array(peer.raw) : null);
    },
    data(socket, bytes) {
      socket.data?.session?.onData(bytes);
    },
    drain(socket) {
      socket.data?.session?.onDrain();
    },
    close(socket) {
      const session = socket.data?.session;
      if (session) events.close(session);
    },
    error(socket, error) {
      events.error(socket.remoteAddress, error);
    },
  };
  const listen = (port: number, tls: TlsMaterial) =>
    Bun.listen<{ session?: Session }>({
      hostname: opts.hostname,
      port,
      // requestCert without rejectUnauthorized: new users have no certificate yet.
      // Who a certificate belongs to is decided by identify(), never by this flag (P4).
      tls: { cert: tls.certPem, key: tls.keyPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: false, minVersion: TLS_1_3 } as Bun.TLSOptions,
      // RN8: so that a listener with a renewed certificate can take over the port (replaceTls).
      // Linux shares a port only between sockets of the same user that all ask for it.
      reusePort: true,
      socket: handlers,
    } as Bun.TCPSocketListenOptions<{ session?: Session }>);
  let listener = listen(opts.port, opts.tls);
  /** Listeners replaced by replaceTls(): they accept nothing, their sessions run on until they end. */
  const retired: (typeof listener)[] = [];
  return {
    port: listener.port,
    hostname: listener.hostname,
    // RN8: Bun's listener.reload() swaps handlers only, not the certificate (measured, Bun 1.4.4),
    // so a second listener with the new certificate binds the same port (SO_REUSEPORT) and the
    // old one stops accepting without closing its connections.
    replaceTls(tls) {
      const next = listen(listener.port, tls);
      listener.stop(false);
      retired.push(listener);
      listener = next;
    },
    stopAccepting: () => listener.stop(false),
    async stop() {
      listener.stop(true);
      for (const old of retired) old.stop(true);
    },
  };
}

export type { Socket };
