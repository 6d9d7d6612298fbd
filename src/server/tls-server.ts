/** The protocol port: Bun.listen with TLS 1.3, optional client certificates, one Session per socket. */
import type { Socket } from "bun";
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { RevocationWatch } from "./revocation-watch.ts";
import { Session, shuttingDown } from "./session.ts";

/** TLS 1.3 is 0x0304; Bun takes the number, not "TLSv1.3" (docs/IMPLEMENTATION.md I2). */
const TLS_1_3 = 0x0304;
const SWEEP_INTERVAL_MS = 1_000;

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface ProtocolServer {
  readonly port: number;
  readonly hostname: string;
  sessions(): number;
  /**
   * RN8: new connections get `tls` from now on; open sessions keep theirs. Bun's
   * listener.reload() swaps handlers only, not the certificate (measured, Bun 1.4.4), so a
   * second listener with the new certificate binds the same port (SO_REUSEPORT) and the old
   * one stops accepting without closing its connections.
   */
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

export function startProtocolServer(ctx: ServerContext, opts: { hostname: string; port: number; tls: TlsMaterial }): ProtocolServer {
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
  const handlers: Bun.SocketHandler<{ session?: Session }> = {
    open(socket) {
      const session = new Session(ctx, socket as unknown as Session["socket"]);
      socket.data = { session };
      ctx.metrics.connections++;
      session.admitted = ctx.hub.admit(socket.remoteAddress, ctx.limits.maxConnectionsPerAddress);
      if (!session.admitted) {
        session.fail(new ProtocolError("TOO_MANY_CONNECTIONS", "too many connections from your address; close some and retry"));
        return;
      }
      sessions.add(session);
      ctx.log.debug("connection opened", { address: socket.remoteAddress, connections: sessions.size });
    },
    handshake(socket, _success, _error) {
      const session = socket.data?.session;
      if (!session || session.state === "closed") return;
      // getPeerX509Certificate() wraps the DER (~8 µs); getPeerCertificate() builds
      // a whole description object with fingerprints (~50 µs) that we never read.
      // undefined (despite its type) when the client presented no certificate.
      const peer = socket.getPeerX509Certificate() as { raw?: Uint8Array } | undefined;
      session.onHandshake(peer?.raw && peer.raw.length > 0 ? new Uint8Array(peer.raw) : null);
    },
    data(socket, bytes) {
      socket.data?.session?.onData(bytes);
    },
    drain(socket) {
      socket.data?.session?.onDrain();
    },
    close(socket) {
      const session = socket.data?.session;
      if (!session) return;
      sessions.delete(session);
      if (sessions.size === 0) onEmpty?.();
      // The peer left before its HELLO: what a client that does not trust our CA does (P2).
      if (session.state === "hello" && session.admitted) {
        ctx.refusalLog.warn("connection closed before HELLO (a client that does not trust this server's CA, e.g. one registered with a server using another data directory, closes like this)", { address: socket.remoteAddress });
      }
      session.onClose();
    },
    error(socket, error) {
      ctx.refusalLog.warn("socket error", { address: socket.remoteAddress, error: error.message });
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

  return {
    port: listener.port,
    hostname: listener.hostname,
    sessions: () => sessions.size,
    replaceTls(tls) {
      const next = listen(listener.port, tls);
      listener.stop(false);
      retired.push(listener);
      listener = next;
    },
    async shutdown(graceMs) {
      // No new connections (nor on a listener retired by replaceTls); the open ones stay until they have drained.
      listener.stop(false);
      const report: DrainReport = { sessions: sessions.size, uploads: [...sessions].filter((s) => s.uploading).length, aborted: 0 };
      for (const session of sessions) session.drain();
      await emptied(graceMs);
      for (const session of sessions) {
        if (session.uploading) report.aborted++;
        session.fail(shuttingDown());
      }
      await emptied(FLUSH_MS);
      await this.stop();
      return report;
    },
    async stop() {
      clearInterval(sweeper);
      clearInterval(revocationTimer);
      listener.stop(true);
      for (const old of retired) old.stop(true);
      for (const session of sessions) session.onClose();
      sessions.clear();
    },
  };
}

export type { Socket };
