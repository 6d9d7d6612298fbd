/** The last image a watcher handled, and the images it refused, kept in the client home so a restart neither misses nor repeats. */
import { readFile } from "node:fs/promises";
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
  /** Most recent last; present only once something was refused. */
  refused?: RefusedImage[];
}

/** Refusals kept in the file: enough to look back on, bounded so the file stays small. */
export const REFUSED_KEPT = 200;

function validRefusal(r: unknown): r is RefusedImage {
  const x = r as RefusedImage;
  return typeof x === "object" && x !== null && Number.isSafeInteger(x.seq) && typeof x.id === "string" && typeof x.label === "string" && typeof x.reason === "string";
}

export async function loadWatchState(home: Home, server: string): Promise<WatchState> {
  const text = await readFile(home.path("watchState"), "utf8").catch(() => null);
  if (text) {
    try {
      const state = JSON.parse(text) as WatchState;
      // Sequence numbers belong to one server: another server starts from zero.
      if (state.server === server && Number.isSafeInteger(state.lastSeq) && state.lastSeq >= 0) {
        const refused = Array.isArray(state.refused) ? state.refused.filter(validRefusal) : [];
        return refused.length > 0 ? { server, lastSeq: state.lastSeq, refused } : { server, lastSeq: state.lastSeq };
      }
    } catch {
      // damaged: start over; saves are idempotent, so nothing is written twice
    }
  }
  return { server, lastSeq: 0 };
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
  await writeFileAtomic(home.path("watchState"), JSON.stringify(state) + "\n", 0o600);
}
