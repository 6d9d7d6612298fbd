/** sis watch: catch up, then fetch, verify and save every NEW_IMAGE; reconnect with back-off. */
import { PING_INTERVAL_MS, LIST_PAGE_MAX, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { cleanPartials } from "./clean-partials.ts";
import { CrlSource } from "./crl.ts";
import { ClientError, RemoteError, SaveConflictError, TrustError } from "./errors.ts";
import type { Credentials, Home } from "./home.ts";
import { receiveImage, type Received } from "./receive.ts";
import { connectAs } from "./session.ts";
import { loadWatchState, saveWatchState, type WatchState } from "./watch-state.ts";

export interface WatchOptions {
  home: Home;
  creds: Credentials;
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  onImage?: (result: Received | { image: ImageMeta; refused: string }) => void;
  /** Each NEW_IMAGE as it arrives, before it is fetched. */
  onNotice?: (image: ImageMeta) => void;
}

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export async function watch(opts: WatchOptions): Promise<void> {
  // One position per output folder: a watch into a new folder receives the older images too.
  const state = await loadWatchState(opts.home, opts.creds.profile.server, opts.outDir);
  const crl = new CrlSource(opts.creds.caDer);
  // A watcher killed mid-download leaves hidden partial files; nothing else owns them.
  const cleaned = await cleanPartials(opts.outDir);
  if (cleaned > 0) opts.log(`removed ${cleaned} unfinished download file${cleaned === 1 ? "" : "s"} left under ${opts.outDir}`);
  let backoff = BACKOFF_START_MS;
  while (!opts.signal?.aborted) {
    let conn: Connection | null = null;
    try {
      conn = await connectAs(opts.creds);
      backoff = BACKOFF_START_MS;
      opts.log(`connected to ${opts.creds.profile.server} as ${opts.creds.profile.username}; catching up after #${state.lastSeq}`);
      await follow(conn, state, crl, opts);
    } catch (error) {
      if (error instanceof RemoteError && error.exitCode === 3) throw error;
      if (error instanceof TrustError) throw error;
      if (opts.signal?.aborted) break;
      const wait = Math.round(backoff * (0.75 + Math.random() / 2));
      opts.log(`disconnected: ${(error as Error).message}; reconnecting in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, opts.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    } finally {
      conn?.close();
    }
  }
}

/** One connection's life: a NEW_IMAGE only marks work to do; LIST after lastSeq decides what. */
async function follow(conn: Connection, state: WatchState, crl: CrlSource, opts: WatchOptions): Promise<void> {
  let dirty = true;
  let wake: (() => void) | null = null;
  conn.onPush((image) => {
    opts.onNotice?.(image);
    dirty = true;
    wake?.();
  });
  conn.onClose(() => wake?.());
  const onAbort = () => {
    conn.close();
    wake?.();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // Fetched (and verified) while nothing is waiting, not when the first image arrives.
    await crl.get(conn);
    while (!conn.closed && !opts.signal?.aborted) {
      if (dirty) {
        dirty = false;
        await catchUp(conn, state, crl, opts);
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
      }
    }
    if (!opts.signal?.aborted) throw new ClientError("the server closed the connection");
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

async function catchUp(conn: Connection, state: WatchState, crl: CrlSource, opts: WatchOptions): Promise<void> {
  for (;;) {
    const page = await conn.expect({ type: "LIST", after: state.lastSeq, limit: LIST_PAGE_MAX }, "IMAGES");
    for (const image of page.images) {
      if (image.seq <= state.lastSeq) continue;
      await handle(conn, image, crl, opts);
      state.lastSeq = image.seq;
      await saveWatchState(opts.home, state);
    }
    if (page.next === null || page.images.length === 0) return;
  }
}

async function handle(conn: Connection, image: ImageMeta, crl: CrlSource, opts: WatchOptions): Promise<void> {
  const label = `${image.owner}/${image.name} (#${image.seq})`;
  try {
    const result = await receiveImage(conn, opts.creds, crl, { id: image.id }, opts.outDir);
    opts.log(`${result.written ? "saved" : "already saved"} ${label}: signature by ${result.signer} (serial ${result.signerSerial}) verified -> ${result.path}`);
    opts.onImage?.(result);
  } catch (error) {
    // A refusal is final for this image; a lost connection is not (the image is retried).
    if (error instanceof TrustError || (error instanceof RemoteError && error.code === "NOT_FOUND") || error instanceof SaveConflictError) {
      const reason = error instanceof TrustError ? `${error.check}: ${error.message}` : (error as Error).message;
      opts.log(`refused ${label}: ${reason}`);
      opts.onImage?.({ image, refused: reason });
      return;
    }
    throw error;
  }
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
