/** Everything a session needs, wired once by the composition root (`sis serve`). */
import type { StorageKeys } from "../crypto/index.ts";
import type { CertificateAuthority } from "../pki/index.ts";
import type { ContentKeyCache } from "./content-key-cache.ts";
import type { CrlCache } from "./crl-cache.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import type { BlobStore, Notifier, Store } from "./ports.ts";
import type { LoginThrottle } from "./throttle.ts";
import type { Semaphore } from "./semaphore.ts";
import type { Stamper } from "./timestamp.ts";
import type { PostLimiter } from "./post-limits.ts";

/** The server's policy; `sis serve` fills it from src/app/options.ts, where every default and range is. */
export interface ServerLimits {
  maxImageSize: number;
  maxConnectionsPerAddress: number;
  certLifetimeDays: number;
  /** TLS handshake plus HELLO (--handshake-timeout). */
  handshakeTimeoutMs: number;
  /** No whole frame from the client (--idle-timeout). */
  idleTimeoutMs: number;
  /** No data frame during an upload (--upload-stall-timeout). */
  uploadStallTimeoutMs: number;
  /** How often open sessions are checked against the store's revocations, one indexed read (P5a, --revocation-check). */
  revocationCheckMs: number;
  /** Lifetime of the server's TLS certificate, renewed while running (RN8, --tls-cert-days). */
  tlsCertDays: number;
  /** How often the TLS certificate and the CA's end are checked (RN8, RN9, --tls-renew-check). */
  tlsRenewCheckMs: number;
  /** Ciphertext bytes one user may store, 0 = none (--quota, M25). */
  quotaBytes: number;
  /** POST_IMAGE accepted per user per minute, 0 = no limit (--post-rate, M26). */
  postsPerMinute: number;
  /** Ciphertext bytes accepted per user per minute, 0 = no limit (--post-bytes-rate, M26). */
  postBytesPerMinute: number;
  /** How long a link code stays usable (--link-lifetime, M20). */
  linkLifetimeMs: number;
}

export interface ServerContext {
  store: Store;
  blobs: BlobStore;
  notifier: Notifier;
  ca: CertificateAuthority;
  /** The key-transport certificate clients wrap image keys for (RSA-OAEP). */
  storageCertDer: Uint8Array;
  /** The key-agreement certificate (P-256) offered on version 5 (P11a); null when the server has none. */
  storageEcdhCertDer: Uint8Array | null;
  /** The PKCS#8 keys of both (W10). */
  storageKeys: StorageKeys;
  /** The time-stamping authority that stamps each stored signature (ENVELOPE.md G9). */
  tsa: Stamper;
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
  /** The per-user post rate and the uploads under way (M25, M26). */
  postLimits: PostLimiter;
  version: string;
  /** Membership (M6): unknown usernames register with a password alone (--open-registration); otherwise an invitation is needed. */
  openRegistration?: boolean;
}
