/**
 * The last image a watcher handled, kept in the client home so a restart neither misses nor repeats.
 * One position per output folder: a watch into a new folder catches up from the start.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic, type Home } from "./home.ts";

export interface WatchState {
  server: string;
  lastSeq: number;
  /** The output folder this position belongs to (absolute); absent for the home's legacy single position. */
  outDir?: string;
}

/** watch-state.json without a folder; watch-state-HASH.json (the folder's SHA-256, 16 hex digits) with one. */
export function watchStatePath(home: Home, outDir?: string): string {
  if (outDir === undefined) return home.path("watchState");
  const hash = createHash("sha256").update(resolve(outDir), "utf8").digest("hex").slice(0, 16);
  return join(home.dir, `watch-state-${hash}.json`);
}

export async function loadWatchState(home: Home, server: string, outDir?: string): Promise<WatchState> {
  const folder = outDir === undefined ? {} : { outDir: resolve(outDir) };
  const text = await readFile(watchStatePath(home, outDir), "utf8").catch(() => null);
  if (text) {
    try {
      const state = JSON.parse(text) as WatchState;
      // Sequence numbers belong to one server: another server starts from zero. The folder
      // is checked too, so that a (most unlikely) hash collision cannot skip images.
      if (state.server === server && Number.isSafeInteger(state.lastSeq) && state.lastSeq >= 0 && state.outDir === folder.outDir) return state;
    } catch {
      // damaged: start over; saves are idempotent, so nothing is written twice
    }
  }
  return { server, lastSeq: 0, ...folder };
}

export async function saveWatchState(home: Home, state: WatchState): Promise<void> {
  await writeFileAtomic(watchStatePath(home, state.outDir), JSON.stringify(state) + "\n");
}
