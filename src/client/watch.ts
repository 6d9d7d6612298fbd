/** sis watch: catch up, then fetch, verify and save every NEW_IMAGE; reconnect with back-off. */
import { CUT_THROUGH_VERSION, PING_INTERVAL_MS, LIST_PAGE_MAX, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { cleanPartials } from "./clean-partials.ts";
import { CrlSource } from "./crl.ts";
import { ClientError, RemoteError, SaveError, TrustError } from "./errors.ts";
import type { Credentials, Home } from "./home.ts";
import { IncomingDeliveries, savedFromIncoming } from "./incoming.ts";
import { receiveImage, type Received } from "./receive.ts";
import { renewalDue, renewOver } from "./renew.ts";
import { SaveGroup, type DirSyncs } from "./save-group.ts";
import { connectAs } from "./session.ts";
import { loadWatchState, recordRefusal, saveWatchState, wasRefused, type WatchState } from "./watch-state.ts";

/** A progress display for one download (the CLI draws one on a terminal). */
export interface DownloadProgress {
  update(got: number, total: number): void;
  done(): void;
}

export interface WatchOptions {
  home: Home;
  /** Replaced by the renewed credentials when the watch renews the certificate (RN6). */
  creds: Credentials;
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  onImage?: (result: Received | { image: ImageMeta; refused: string }) => void;
  /** Each NEW_IMAGE as it arrives, before it is fetched. */
  onNotice?: (image: ImageMeta) => void;
  /** A progress display per download, given its label. */
  progress?: (label: string) => DownloadProgress;
  /** Lines only a debugging run wants (SIS_DEBUG): how each image came. */
  debug?: (line: string) => void;
}

/** What a watch did, for the summary when it is stopped. */
export interface WatchSummary {
  received: number;
  alreadySaved: number;
  refused: number;
  lastSeq: number;
}

/** Reconnecting: 0.25 s doubling to at most 5 s, so a restarted server is noticed within seconds. */
export const BACKOFF_START_MS = 250;
export const BACKOFF_MAX_MS = 5_000;
/** After a renewal that failed, the next attempt waits this long (RN6). */
const RENEW_RETRY_MS = 60 * 60 * 1000;

/** The watch's own renewal schedule (RN6): checked at each connection and at each idle PING. */
interface RenewalState {
  retryAt: number;
  /** Renewed, yet due again by this computer's clock: the clock is off; no more attempts. */
  stopped: boolean;
}

export async function watch(opts: WatchOptions): Promise<WatchSummary> {
  // One position per output folder: a watch into a new folder receives the older images too.
  const state = await loadWatchState(opts.home, opts.creds.profile.server, opts.outDir);
  const crl = new CrlSource(opts.creds.caDer);
  const summary: WatchSummary = { received: 0, alreadySaved: 0, refused: 0, lastSeq: state.lastSeq };
  // A watcher killed mid-download leaves hidden partial files; nothing else owns them.
  const cleaned = await cleanPartials(opts.outDir);
  if (cleaned > 0) opts.log(`removed ${cleaned} unfinished download file${cleaned === 1 ? "" : "s"} left under ${opts.outDir}`);
  const renewal: RenewalState = { retryAt: 0, stopped: false };
  let backoff = BACKOFF_START_MS;
  let everConnected = false;
  /** Set while connections keep failing: the loss was reported once, the attempts are quiet. */
  let lost = false;
  while (!opts.signal?.aborted) {
    let conn: Connection | null = null;
    // The back-off resets only when a connection got somewhere (caught up, or moved the cursor):
    // a server that drops every connection right after it is made is retried ever more slowly.
    const progress = { made: false };
    try {
      conn = await untilAborted(connectAs(opts.creds), opts.signal);
      if (!conn) break;
      everConnected = true;
      lost = false;
      opts.log(`connected to ${opts.creds.profile.server} as ${opts.creds.profile.username}; catching up after #${state.lastSeq}`);
      await follow(conn, state, crl, opts, summary, progress, renewal);
    } catch (error) {
      if (error instanceof RemoteError && error.exitCode === 3) throw error;
      if (error instanceof TrustError) throw error;
      if (opts.signal?.aborted) break;
      if (progress.made) backoff = BACKOFF_START_MS;
      const wait = Math.min(BACKOFF_MAX_MS, Math.round(backoff * (0.75 + Math.random() / 2)));
      if (!lost) {
        lost = true;
        const what = everConnected ? "disconnected" : "not connected";
        opts.log(`${what}: ${(error as Error).message}; retrying quietly (at most ${BACKOFF_MAX_MS / 1000} s apart) until the server is back; reconnecting in ${(wait / 1000).toFixed(1)} s`);
      }
      await sleep(wait, opts.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    } finally {
      conn?.close();
    }
  }
  summary.lastSeq = state.lastSeq;
  return summary;
}

/** One connection's life: a NEW_IMAGE only marks work to do; LIST after lastSeq decides what. */
async function follow(conn: Connection, state: WatchState, crl: CrlSource, opts: WatchOptions, summary: WatchSummary, progress: { made: boolean }, renewal: RenewalState): Promise<void> {
  let dirty = true;
  let wake: (() => void) | null = null;
  conn.onPush((image) => {
    opts.onNotice?.(image);
    dirty = true;
    wake?.();
  });
  // (M27) An image deleted on the server. A copy already saved stays (it is the receiver's); nothing to fetch.
  conn.onDeleted((image) => opts.log(`deleted on the server: ${image.owner}/${image.name} (#${image.seq}); a copy saved here is kept`));
  conn.onClose(() => wake?.());
  // Version 3 (P40): images posted while this connection is up arrive as they are posted; the
  // catch-up below still decides, in sequence order, what is saved and acknowledged (P46).
  const incoming = conn.version >= CUT_THROUGH_VERSION
    ? new IncomingDeliveries(opts.creds, opts.outDir, () => {
        dirty = true;
        wake?.();
      }, opts.progress, opts.debug)
    : null;
  if (incoming) conn.onIncoming(incoming);
  const onAbort = () => {
    conn.close();
    wake?.();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await renewIfDue(conn, opts, renewal);
    // Fetched (and verified) while nothing is waiting, not when the first image arrives.
    await crl.get(conn);
    if (incoming) {
      await conn.expect({ type: "WATCH_INCOMING" }, "INCOMING_ON");
      opts.debug?.("taking cut-through deliveries (protocol version 3)");
    }
    while (!conn.closed && !opts.signal?.aborted) {
      if (dirty) {
        dirty = false;
        await catchUp(conn, state, crl, opts, summary, progress, incoming);
        await incoming?.dropListedUpTo(state.lastSeq);
        progress.made = true;
        continue;
      }
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), PING_INTERVAL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = null;
      if (timedOut && !conn.closed) {
        await conn.expect({ type: "PING" }, "PONG");
        await crl.get(conn); // refreshed while idle once it is stale
        await renewIfDue(conn, opts, renewal);
      }
    }
    if (!opts.signal?.aborted) {
      // The server's last word may be queued unread: a fatal ERROR such as CERT_REVOKED says why it closed.
      await conn.receive();
      throw new ClientError("the server closed the connection");
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    // P47: partials belong to their connection; the next one's catch-up fetches what they were.
    conn.onIncoming(null);
    await incoming?.discardAll();
  }
}

/**
 * RN6: once two thirds of the certificate's lifetime have passed, RENEW on this connection and
 * use the new credentials from the next connection on. A failure that leaves the connection up
 * is said and retried an hour later; a refusal that closes it (CERT_REVOKED) ends the watch.
 */
async function renewIfDue(conn: Connection, opts: WatchOptions, renewal: RenewalState): Promise<void> {
  const now = Date.now();
  if (renewal.stopped || now < renewal.retryAt || !renewalDue(opts.creds.certDer, now)) return;
  renewal.retryAt = now + RENEW_RETRY_MS;
  try {
    const result = await renewOver(conn, opts.home, opts.creds);
    opts.creds = result.creds;
    const p = result.creds.profile;
    opts.log(`renewed the certificate: serial ${p.serial}, valid until ${new Date(p.notAfter).toISOString()} (serial ${result.previousSerial} stays valid until it expires)`);
    if (renewalDue(result.creds.certDer)) {
      renewal.stopped = true;
      opts.log("the renewed certificate is already due for renewal by this computer's clock: check the clock; no more automatic renewals in this watch");
    }
  } catch (error) {
    if (conn.closed || error instanceof TrustError) throw error;
    opts.log(`cannot renew the certificate now: ${(error as Error).message}; trying again in an hour (or run 'sis renew')`);
  }
}

/**
 * Images listed together are saved one after the other and acknowledged together (SaveGroup):
 * their folders are fsynced once, then each is said and the position moves past it. The
 * position file is written only after that sync, so it is never ahead of a durable file.
 */
async function catchUp(conn: Connection, state: WatchState, crl: CrlSource, opts: WatchOptions, summary: WatchSummary, progress: { made: boolean }, incoming: IncomingDeliveries | null): Promise<void> {
  const group = new SaveGroup();
  const flush = async () => {
    await group.flush();
    await saveWatchState(opts.home, state);
  };
  let at = state.lastSeq;
  try {
    for (;;) {
      const page = await conn.expect({ type: "LIST", after: at, limit: LIST_PAGE_MAX }, "IMAGES");
      for (const [i, image] of page.images.entries()) {
        if (image.seq <= at) continue;
        const ack = wasRefused(state, image.id) ? null : await handle(conn, image, state, crl, opts, summary, group, incoming);
        at = image.seq;
        group.handled(() => {
          ack?.();
          state.lastSeq = image.seq;
        });
        progress.made = true;
        if (group.full || i === page.images.length - 1) await flush();
      }
      if (page.next === null || page.images.length === 0) return;
    }
  } finally {
    // After a failure too: what was saved before it is complete, and is acknowledged once its folder is synced.
    // If that sync fails, nothing is acknowledged and the images are fetched again (saving is idempotent).
    if (!group.empty) await flush().catch(() => {});
  }
}

/**
 * A failure that belongs to this image, not to the connection: it is refused (said once,
 * recorded, never fetched again) and the watch goes on. A lost connection is retried instead.
 */
function isImageFailure(conn: Connection, error: unknown): boolean {
  // Whatever happened, with the connection gone it may not have been the image's fault: fetch it again.
  if (conn.closed) return false;
  // A CRL that does not verify is the server's fault, not this image's: the watch stops (exit 3).
  if (error instanceof TrustError) return error.check !== "crl";
  if (error instanceof SaveError) return true;
  // The server's verdict on this one request; BUSY is a passing state and fatal codes end the session.
  // SHUTTING_DOWN (O3) may be read before the close is seen: the server's, not the image's, so reconnect.
  if (error instanceof RemoteError) return error.exitCode !== 3 && error.code !== "BUSY" && error.code !== "SHUTTING_DOWN";
  // Any other file system failure while saving (an errno error that escaped the SaveError wrapping).
  const code = (error as NodeJS.ErrnoException)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** Fetches, verifies and saves one image; returns what acknowledges it (said once its folder is durable, SaveGroup). */
async function handle(conn: Connection, image: ImageMeta, state: WatchState, crl: CrlSource, opts: WatchOptions, summary: WatchSummary, dirSyncs: DirSyncs, incoming: IncomingDeliveries | null): Promise<() => void> {
  const label = `${image.owner}/${image.name} (#${image.seq})`;
  let progress: DownloadProgress | undefined;
  try {
    const result = (await savedFromIncoming(incoming, conn, image, opts.creds, crl, dirSyncs, opts.debug)) ?? await (async () => {
      progress = opts.progress?.(`getting ${image.owner}/${image.name}`);
      return receiveImage(conn, opts.creds, crl, { id: image.id }, opts.outDir, progress?.update, dirSyncs);
    })();
    progress?.done();
    if (result.written) summary.received++;
    else summary.alreadySaved++;
    const note = result.tokenProblem ? ` (the time-stamp was not used: ${result.tokenProblem}; judged as of now)` : "";
    return () => {
      opts.log(`${result.written ? "saved" : "already saved"} ${label}: signature by ${result.signer} (serial ${result.signerSerial}) verified -> ${result.path}${note}`);
      opts.onImage?.(result);
    };
  } catch (error) {
    progress?.done();
    // (M28) Deleted between LIST and DOWNLOAD: not a refusal, just gone.
    if (error instanceof RemoteError && error.code === "NOT_FOUND" && !conn.closed) {
      return () => opts.log(`skipped ${label}: deleted on the server`);
    }
    if (!isImageFailure(conn, error)) {
      // Not this image's fault, or the stream may be out of step: reconnect and fetch it again.
      conn.close();
      throw error;
    }
    const reason = error instanceof TrustError ? `${error.check}: ${error.message}` : (error as Error).message;
    summary.refused++;
    recordRefusal(state, { seq: image.seq, id: image.id, label: `${image.owner}/${image.name}`, reason });
    return () => {
      opts.log(`refused ${label}: ${reason}`);
      opts.onImage?.({ image, refused: reason });
    };
  }
}

/** The promise's value, or null as soon as the signal aborts (a late value is closed if it is a connection). */
async function untilAborted(promise: Promise<Connection>, signal?: AbortSignal): Promise<Connection | null> {
  if (!signal) return promise;
  if (signal.aborted) {
    void promise.then((c) => c.close(), () => {});
    return null;
  }
  return new Promise<Connection | null>((resolve, reject) => {
    const onAbort = () => {
      void promise.then((c) => c.close(), () => {});
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (c) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) c.close();
        resolve(signal.aborted ? null : c);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) resolve(null);
        else reject(e);
      },
    );
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
