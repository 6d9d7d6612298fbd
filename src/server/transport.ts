/** What lies between the sessions and a listener on the protocol port: the events a transport reports and what the server asks of it. */
import type { Session, SessionSocket } from "./session.ts";

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/**
 * What a transport (the listener under the sessions) reports about its connections. Bun's TLS
 * listener (tls-server.ts) and the PROXY-aware one (proxied-transport.ts) drive sessions the same way:
 * open at accept (the handshake deadline runs from there), the client certificate after the
 * handshake, then bytes, drains and the close; the session writes through a SessionSocket.
 */
export interface ConnectionEvents {
  /** A new connection from `socket.remoteAddress` (the client's, from a PROXY header when there is one). */
  open(socket: SessionSocket): Session;
  handshake(session: Session, peerCertDer: Uint8Array | null): void;
  close(session: Session): void;
  error(address: string, error: Error): void;
}

/** A listener on the protocol port, as the server starts, renews (RN8) and stops it (O1). */
export interface Transport {
  readonly port: number;
  readonly hostname: string;
  replaceTls(tls: TlsMaterial): void;
  /** Accepts no new connection; the open ones stay until they end. */
  stopAccepting(): void;
  /** Closes every connection it still has. */
  stop(): Promise<void>;
}

