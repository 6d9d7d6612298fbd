/** sis watch: catch up, then fetch, verify and save every NEW_IMAGE; reconnect with back-off. */
import { CUT_THROUGH_VERSION, PING_INTERVAL_MS, RANGED_DOWNLOAD_VERSION } from "../protocol/index.ts";
import { sleep, untilAborted } from "./abortable.ts";
import type { Connection } from "./connection.ts";
import { cleanPartials } from "./clean-partials.ts";
import { CrlSource } from "./crl.ts";
import { ClientError, RemoteError, TrustError } from "./errors.ts";
import { IncomingDeliveries } from "./incoming.ts";
import { connectAs } from "./session.ts";
import { catchUp } from "./watch-catch-up.ts";
import type { WatchOptions, WatchSummary } from "./watch-options.ts";
import { renewIfDue, type RenewalState } from "./watch-renewal.ts";
import { loadWatchState, type WatchState } from "./watch-state.ts";

// Importable from here as before the split.
export type { DownloadProgress, WatchOptions, WatchSummary } from "./watch-options.ts";

/** Reconnecting: 0.25 s doubling to at most 5 s, so a restarted server is noticed within seconds. */
export const BACKOFF_START_MS = 250;
export const BACKOFF_MAX_MS = 5_000;

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
      }, opts.progress, opts.debug, conn.version >= RANGED_DOWNLOAD_VERSION)
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

