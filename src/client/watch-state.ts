/** The last image a watcher handled, kept in the client home so a restart neither misses nor repeats. */
import { readFile } from "node:fs/promises";
import { writeFileAtomic, type Home } from "./home.ts";

export interface WatchState {
  server: string;
  lastSeq: number;
}

export async function loadWatchState(home: Home, server: string): Promise<WatchState> {
  const text = await readFile(home.path("watchState"), "utf8").catch(() => null);
  if (text) {
    try {
      const state = JSON.parse(text) as WatchState;
      // Sequence numbers belong to one server: another server starts from zero.
      if (state.server === server && Number.isSafeInteger(state.lastSeq) && state.lastSeq >= 0) return state;
    } catch {
      // damaged: start over; saves are idempotent, so nothing is written twice
    }
  }
  return { server, lastSeq: 0 };
}

export async function saveWatchState(home: Home, state: WatchState): Promise<void> {
  await writeFileAtomic(home.path("watchState"), JSON.stringify(state) + "\n");
}
