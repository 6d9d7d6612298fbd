/** Everything a session needs, wired once by the composition root (`sis serve`). */
import type { CertificateAuthority } from "../pki/index.ts";
import type { ContentKeyCache } from "./content-key-cache.ts";
import type { CrlCache } from "./crl-cache.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import type { BlobStore, Notifier, Store } from "./ports.ts";
import type { LoginThrottle } from "./throttle.ts";
import type { Semaphore } from "./semaphore.ts";

export interface ServerLimits {
  maxImageSize: number;
  maxConnectionsPerAddress: number;
  certLifetimeDays: number;
  /** TLS handshake plus HELLO (HANDSHAKE_TIMEOUT_MS by default). */
  handshakeTimeoutMs: number;
  /** No whole frame from the client (IDLE_TIMEOUT_MS by default). */
  idleTimeoutMs: number;
  /** No data frame during an upload (UPLOAD_STALL_TIMEOUT_MS by default). */
  uploadStallTimeoutMs: number;
  /** How often open sessions are checked against the store's revocations (P5a). */
  revocationCheckMs: number;
}

export interface ServerContext {
  store: Store;
  blobs: BlobStore;
  notifier: Notifier;
  ca: CertificateAuthority;
  /** The key-transport certificate clients wrap image keys for, and its PKCS#8 key. */
  storageCertDer: Uint8Array;
  storageKeyPkcs8: Uint8Array;
  /** Unwrapped content keys for DOWNLOAD's re-wrap, shared by the receivers of one image. */
  contentKeys: ContentKeyCache;
  crl: CrlCache;
  hub: Hub;
  throttle: LoginThrottle;
  /** Bounds concurrent argon2id runs (64 MiB each) so logins cannot exhaust memory. */
  passwordWork: Semaphore;
  metrics: Metrics;
  log: Logger;
  /** ctx.log, rate-limited: for what a peer can cause at will (refusals, revoked sessions). */
  refusalLog: Logger;
  limits: ServerLimits;
  version: string;
}
