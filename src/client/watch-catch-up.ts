/** A watch's catch-up (sis watch): LIST after the position, then fetch, verify and save each image, acknowledged once its folder is durable. */
import { LIST_PAGE_MAX, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import { RemoteError, SaveError, TrustError } from "./errors.ts";
import { savedFromIncoming, type IncomingDeliveries } from "./incoming.ts";
import { receiveImage } from "./receive.ts";
import { SaveGroup, type DirSyncs } from "./save-group.ts";
import type { DownloadProgress, WatchOptions, WatchSummary } from "./watch-options.ts";
import { recordRefusal, saveWatchState, wasRefused, type WatchState } from "./watch-state.ts";

/**
 * Images listed together are saved one after the other and acknowledged together (SaveGroup):
 * their folders are fsynced once, then each is said and the position moves past it. The
 * position file is written only after that sync, so it is never ahead of a durable file.
 */
export async function catchUp(conn: Connection, state: WatchState, crl: CrlSource, opts: WatchOptions, summary: WatchSummary, progress: { made: boolean }, incoming: IncomingDeliveries | null): Promise<void> {
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
