/** The composition root of `sis serve` (and the demo's server): the only place concrete store, keys and servers are wired. */
import { createHttpApp } from "../http/app.ts";
import { unwrapStorageKey } from "../crypto/index.ts";
import { certInfo, toPem } from "../pki/index.ts";
import type { ServerContext, ServerLimits } from "../server/context.ts";
import { ContentKeyCache } from "../server/content-key-cache.ts";
import { CrlCache } from "../server/crl-cache.ts";
import { openDataDir, type ServerKeys } from "../server/data-dir.ts";
import { openClusterKeys, readClusterTls } from "../server/cluster-keys.ts";
import { Hub } from "../server/hub.ts";
import { assertCanListen, listenOrExplain, listenOrExplainAsync, reachableHosts } from "../server/listen-address.ts";
import { rateLimited } from "../server/log-limiter.ts";
import { createLogger, type Logger } from "../server/logger.ts";
import { Metrics } from "../server/metrics.ts";
import { Semaphore } from "../server/semaphore.ts";
import { PostLimiter } from "../server/post-limits.ts";
import { startTlsRenewal } from "../server/tls-renewal.ts";
import { startTsaRenewal } from "../server/tsa-renewal.ts";
import { startOrphanSweep, type OrphanSweep } from "../server/orphan-sweep.ts";
import { ProcessLocks } from "../server/process-locks.ts";
import { startProtocolServer } from "../server/tls-server.ts";
import type { BlobStore } from "../server/ports.ts";
import { stampStoredImages } from "../server/timestamp.ts";
import { S3BlobStore } from "../store/s3-blob-store.ts";
import { openBlobs, openStore, s3Options } from "./serve-stores.ts";
import { postgresUrl } from "./database-url.ts";

export { DatabaseOptionError } from "./database-url.ts";
export { ClusterKeyError } from "../server/cluster-keys.ts";
import { DEFAULT_LIMITS } from "./config.ts";
import { ADDRESS_KEY, DEFAULT_INVITE_TTL_MS, mintInvitation, type MintedInvitation } from "./invitations.ts";
import { hostPort } from "../server/listen-address.ts";

/** What the CLI prints about addresses and how it explains a port in use. */
export { hostPort, isWildcard, ListenError, reachableHosts } from "../server/listen-address.ts";

export interface ServeOptions {
  dataDir: string;
  host: string;
  port: number;
  httpHost: string;
  /** 0 picks a free port; null disables the HTTP side. */
  httpPort: number | null;
  /** Each one left out takes its default from src/app/options.ts. */
  limits?: Partial<ServerLimits>;
  log?: Logger;
  version: string;
  /** Membership (M6): unknown names register without an invitation. Default false. */
  openRegistration?: boolean;
  /** "sqlite" (the default) or a postgres:// URL without a password (docs/SCALING.md). */
  database?: string;
  /** "files" (the default: the data directory's blobs folder) or an s3:// URL (docs/SCALING.md, "Blobs on S3"). */
  blobs?: string;
  /** Cluster keys made by `sis admin init-cluster`: loaded, never created (docs/SCALING.md). */
  keys?: string;
  /** Balancer addresses that send a PROXY header (--proxy-from, PX4); none: no header is read. */
  proxyFrom?: readonly string[];
}

/**
 * Cluster mode: --keys given, or the metadata on PostgreSQL (several nodes share it). Then the
 * keys are read from --keys (else the data directory) and never made: a node that made its own
 * CA would answer unlike the others. Null: the single node's data directory, made at first start.
 */
function clusterKeysDir(opts: ServeOptions): string | null {
  if (opts.keys !== undefined) return opts.keys;
  return postgresUrl(opts.database) !== null ? opts.dataDir : null;
}

export interface RunningServer {
  port: number;
  httpPort: number | null;
  caFingerprint: string;
  caPem: string;
  created: boolean;
  dataDir: string;
  /** Addresses a client can use for the protocol port (never a wildcard). */
  reachable: string[];
  context: ServerContext;
  /**
   * SIGTERM / SIGINT (O1, O2): stop accepting, let uploads under way finish within
   * `graceMs`, close every session with SHUTTING_DOWN, then stop; logged at start and end.
   */
  shutdown(graceMs: number, signal?: string): Promise<void>;
  /** Membership (M7): an invitation for the first user, minted when the database has no user yet (and registration is not open); else null. */
  firstInvitation: MintedInvitation | null;
  stop(): Promise<void>;
}

/**
 * How often a node tries the S3 orphan sweep while running (S3-3). Orphans come only from a node
 * that died between its object's commit and its row's, so they are rare; each sweep lists the
 * whole prefix (one request per 1,000 objects). An hour keeps an orphan at most about the minimum
 * orphan age plus an hour, at 24 listings a day for the cluster: the lock lets one node run it.
 */
export const ORPHAN_SWEEP_EVERY_MS = 60 * 60 * 1000;

/** The TSA certificate's renewal window of a single node (data-dir.ts, T1): in cluster mode a warning at start. */
const TSA_WARN_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Argon2id uses 64 MiB per run: at most two at once on this machine's two cores. */
const PASSWORD_PERMITS = 2;
const PASSWORD_QUEUE = 64;

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  // Nothing is created in the data directory for a server that cannot listen.
  assertCanListen(opts.host, opts.port, "--port");
  postgresUrl(opts.database); // a malformed --database, or one holding a password, creates nothing either
  const s3 = s3Options(opts.blobs); // nor does a bad --blobs (credentials in it, no bucket, no endpoint)
  if (opts.httpPort !== null) assertCanListen(opts.httpHost, opts.httpPort, "--http-port");
  // The TLS certificate names every address a client may use (a wildcard host: each interface's).
  const reachable = reachableHosts(opts.host);
  const hosts = [...new Set(["localhost", "127.0.0.1", ...reachable])];
  const limits = withDefaults(opts.limits ?? {});
  const keysDir = clusterKeysDir(opts);
  const keys: ServerKeys = keysDir !== null ? await openClusterKeys(keysDir) : await openDataDir(opts.dataDir, hosts, { tlsCertDays: limits.tlsCertDays });
  // T1 in cluster mode: a node never replaces the TSA certificate itself; the operator does, with init-cluster --renew-tls.
  if (keysDir !== null && certInfo(keys.tsa.certDer).notAfter - Date.now() < TSA_WARN_BEFORE_MS) {
    log.warn("the cluster's time-stamping certificate ends within 30 days; run 'sis admin init-cluster --renew-tls --out DIR' and copy tsa.pem and tsa.key to every node, then restart them", { keys: keysDir, notAfter: new Date(certInfo(keys.tsa.certDer).notAfter).toISOString() });
  }
  const { store, notifier, doorbell, throttle, postgres } = await openStore(opts.dataDir, opts.database);
  // Start-up recovery: blobs without a committed record were never acknowledged (by age only on S3).
  let blobs: BlobStore;
  try {
    blobs = await openBlobs(opts.dataDir, s3, store, log);
  } catch (error) {
    await notifier.close();
    await store.close();
    throw error;
  }
  // Upgrade (T3): images stored before the server had a TSA are stamped while their signers' certificates are valid.
  await stampStoredImages(store, keys.tsa, log);
  // T1 while running, on a single node: the TSA certificate is replaced within 30 days of its end (a cluster node never replaces it).
  const tsaRenewal = keysDir === null ? startTsaRenewal({ dataDir: opts.dataDir, ca: keys.ca, tsa: keys.tsa, checkMs: limits.tlsRenewCheckMs, log }) : null;

  const metrics = new Metrics();
  if (doorbell) metrics.doorbellAgeMs = () => doorbell.msSinceLastCheck();
  const storageKeys = { rsaPkcs8: keys.storageKeyPkcs8, ecdhPkcs8: keys.storageEcdh?.keyPkcs8 ?? null };
  const ctx: ServerContext = {
    store,
    blobs,
    notifier,
    ca: keys.ca,
    storageCertDer: keys.storageCertDer,
    storageEcdhCertDer: keys.storageEcdh?.certDer ?? null,
    storageKeys,
    tsa: tsaRenewal ?? keys.tsa,
    contentKeys: new ContentKeyCache((wrapped) => unwrapStorageKey(wrapped, storageKeys)),
    crl: new CrlCache(keys.ca, store),
    hub: new Hub(notifier),
    throttle,
    passwordWork: new Semaphore(PASSWORD_PERMITS, PASSWORD_QUEUE),
    metrics,
    log,
    refusalLog: rateLimited(log),
    limits,
    postLimits: new PostLimiter(limits),
    version: opts.version,
    openRegistration: opts.openRegistration ?? false,
  };

  const protocol = await listenOrExplainAsync(opts.host, opts.port, "--port", () => startProtocolServer(ctx, {
    hostname: opts.host,
    port: opts.port,
    tls: { certPem: keys.tls.certPem, keyPem: keys.tls.keyPem, caPem: keys.caPem },
    proxyFrom: opts.proxyFrom ?? [],
  }));

  let http: ReturnType<typeof Bun.serve> | null = null;
  if (opts.httpPort !== null) {
    const app = createHttpApp({
      caPem: keys.caPem,
      crlPem: async () => toPem(await ctx.crl.current(), "X509 CRL"),
      health: () => ({ ok: true, connections: metrics.connections, version: opts.version }),
      metrics: () => metrics.render(),
    });
    const httpPort = opts.httpPort;
    try {
      http = listenOrExplain(opts.httpHost, httpPort, "--http-port", () => Bun.serve({ hostname: opts.httpHost, port: httpPort, fetch: app.fetch }));
    } catch (error) {
      tsaRenewal?.stop();
      await protocol.stop();
      await notifier.close();
      await store.close();
      throw error;
    }
  }

  // RN8, RN9: the TLS certificate renewed while running; the CA's end announced in the log.
  const tlsRenewal = startTlsRenewal({
    dataDir: opts.dataDir,
    ca: keys.ca,
    hosts,
    certPem: keys.tls.certPem,
    lifetimeDays: limits.tlsCertDays,
    checkMs: limits.tlsRenewCheckMs,
    log,
    metrics,
    ...(keysDir !== null && { reload: () => readClusterTls(keysDir) }),
    replace: (files) => protocol.replaceTls({ certPem: files.certPem, keyPem: files.keyPem, caPem: keys.caPem }),
  });
  void tlsRenewal.check();
  // Membership (M2, M7): the address invitations carry, for `sis admin invite`; the first user's invitation.
  const advertised = hostPort(reachable[0] ?? opts.host, protocol.port);
  await store.setServerInfo(ADDRESS_KEY, advertised);
  let firstInvitation: MintedInvitation | null = null;
  if (!ctx.openRegistration && (await store.userSummaries(Date.now())).length === 0) {
    firstInvitation = await mintInvitation(store, { address: advertised, fingerprint: keys.ca.fingerprint, username: null, ttlMs: DEFAULT_INVITE_TTL_MS });
    log.info("invitation made for the first user", { id: firstInvitation.id });
  }

  // Unwrapped content keys leave memory when they expire, not only at the next download.
  const keySweeper = setInterval(() => ctx.contentKeys.sweep(), 10_000);
  keySweeper.unref();
  // S3-3 while running: on the node holding the cluster-wide lock (PostgreSQL), by age as at start.
  const orphanSweep: OrphanSweep | null = blobs instanceof S3BlobStore
    ? startOrphanSweep({ blobs, store, locks: postgres ?? new ProcessLocks(), intervalMs: ORPHAN_SWEEP_EVERY_MS, log })
    : null;

  const running: RunningServer = {
    port: protocol.port,
    httpPort: http?.port ?? null,
    caFingerprint: keys.ca.fingerprint,
    caPem: keys.caPem,
    created: keys.created,
    dataDir: opts.dataDir,
    reachable,
    context: ctx,
    async shutdown(graceMs, signal) {
      const began = Date.now();
      log.info("shutting down: no new connections; uploads under way may finish", { signal, graceSeconds: graceMs / 1000, connections: protocol.sessions() });
      void http?.stop(false);
      const report = await protocol.shutdown(graceMs);
      await this.stop();
      log.info("server stopped", { signal, ...report, finished: report.uploads - report.aborted, ms: Date.now() - began });
    },
    firstInvitation,
    async stop() {
      tlsRenewal.stop();
      tsaRenewal?.stop();
      await protocol.stop();
      await http?.stop(true);
      ctx.hub.close();
      clearInterval(keySweeper);
      orphanSweep?.stop();
      ctx.contentKeys.clear();
      await notifier.close();
      await store.close();
    },
  };
  log.info("server started", { version: opts.version, port: protocol.port, httpPort: http?.port ?? null, data: opts.dataDir, ...(keysDir !== null && { keys: keysDir }), caFingerprint: keys.ca.fingerprint, ...(opts.proxyFrom?.length ? { proxyFrom: opts.proxyFrom.join(",") } : {}) });
  return running;
}

/** The limits given, the defaults for the rest (a key given as undefined takes its default too). */
function withDefaults(given: Partial<ServerLimits>): ServerLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof ServerLimits, number | undefined][]) if (value !== undefined) limits[key] = value;
  return limits;
}
