/**
 * The last image a watcher handled, and the images it refused, kept in the client home so a
 * restart neither misses nor repeats. One position per output folder: a watch into a new
 * folder catches up from the start.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic, type Home } from "./home.ts";

/** An image the watcher could not verify or save: never fetched again (the cursor is past it). */
export interface RefusedImage {
  seq: number;
  id: string;
  label: string;
  reason: string;
}

export interface WatchState {
  server: string;
  lastSeq: number;
  /** The output folder this position belongs to (absolute); absent for the home's legacy single position. */
  outDir?: string;
  /** Most recent last; present only once something was refused. */
  refused?: RefusedImage[];
}

/** Refusals kept in the file: enough to look back on, bounded so the file stays small. */
export const REFUSED_KEPT = 200;

function validRefusal(r: unknown): r is RefusedImage {
  const x = r as RefusedImage;
  return typeof x === "object" && x !== null && Number.isSafeInteger(x.seq) && typeof x.id === "string" && typeof x.label === "string" && typeof x.reason === "string";
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
      if (state.server === server && Number.isSafeInteger(state.lastSeq) && state.lastSeq >= 0 && state.outDir === folder.outDir) {
        const refused = Array.isArray(state.refused) ? state.refused.filter(validRefusal) : [];
        return { server, lastSeq: state.lastSeq, ...folder, ...(refused.length > 0 ? { refused } : {}) };
      }
    } catch {
      // damaged: start over; saves are idempotent, so nothing is written twice
    }
  }
  return { server, lastSeq: 0, ...folder };
}

/** Records a refusal (the caller moves the cursor past it and saves). */
export function recordRefusal(state: WatchState, refusal: RefusedImage): void {
  const refused = (state.refused ?? []).filter((r) => r.id !== refusal.id);
  refused.push(refusal);
  state.refused = refused.slice(-REFUSED_KEPT);
}

/** True if this image was refused before: it is not fetched again. */
export function wasRefused(state: WatchState, id: string): boolean {
  return state.refused?.some((r) => r.id === id) ?? false;
}

export async function saveWatchState(home: Home, state: WatchState): Promise<void> {
  await writeFileAtomic(watchStatePath(home, state.outDir), JSON.stringify(state) + "\n", 0o600);
}
