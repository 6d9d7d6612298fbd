/**
 * The S3 orphan sweep while running (S3-3, docs/SCALING.md): every so often the node that gets
 * the cluster-wide lock (ports.ts ST11) reads the committed ids, then removes objects not among
 * them that are older than the store's minimum orphan age. The age spares uploads another node
 * has written and not yet committed; the lock spares the bucket a listing by every node.
 */
import type { BlobStore, ExclusiveLocks, ImageStore } from "./ports.ts";
import type { Logger } from "./logger.ts";

export const ORPHAN_SWEEP_LOCK = "blob-sweep";

export interface OrphanSweepOptions {
  blobs: Pick<BlobStore, "sweep"> & { readonly minOrphanAgeMs: number };
  store: Pick<ImageStore, "allImageIds">;
  locks: ExclusiveLocks;
  intervalMs: number;
  log: Logger;
}

export interface OrphanSweep {
  /** One sweep now, if this node gets the lock: the ids removed, or null when another node holds it. Rejects on a failure. */
  runOnce(): Promise<string[] | null>;
  stop(): void;
}

export function startOrphanSweep(opts: OrphanSweepOptions): OrphanSweep {
  let running: Promise<string[] | null> | null = null;
  const runOnce = (): Promise<string[] | null> => {
    running ??= opts.locks
      .tryExclusive(ORPHAN_SWEEP_LOCK, async () => {
        // The ids first, then the listing: a row committed meanwhile has an object older than its row.
        const readAt = Date.now();
        const keep = await opts.store.allImageIds();
        return opts.blobs.sweep(keep, readAt - opts.blobs.minOrphanAgeMs);
      })
      .then((r) => {
        if (r === null) return null;
        if (r.value.length > 0) opts.log.info("removed orphan blobs older than the minimum orphan age", { count: r.value.length, minOrphanAgeSeconds: opts.blobs.minOrphanAgeMs / 1000 });
        return r.value;
      })
      .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    runOnce().catch((error: unknown) => opts.log.error("cannot sweep orphan blobs; trying again at the next interval", { error: String(error) }));
  }, opts.intervalMs);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
