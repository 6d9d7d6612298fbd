/** What a batch of posts shares, whichever protocol version carries it: the --rename suffixes, the events, the result. */
import { extname } from "node:path";
import type { Posted, PostOptions } from "./post.ts";
import type { RateWait } from "./rate-wait.ts";

/** The most suffixes --rename tries before it gives up on a file. */
export const MAX_RENAME_TRIES = 1000;

/** NAME with its n-th suffix: "trip.jpg", "trip (2).jpg", "trip (3).jpg" … (before the extension). */
export function renamed(name: string, n: number): string {
  if (n <= 1) return name;
  const ext = extname(name);
  const stem = ext.length > 0 && ext.length < name.length ? name.slice(0, -ext.length) : name;
  return `${stem} (${n})${stem === name ? "" : ext}`;
}

export interface BatchEvents {
  /** Called before each file is tried; may return a progress callback for it. */
  starting?(file: string): PostOptions["onProgress"] | void;
  /** `takenName` is the base name the server refused as taken when --rename chose another. */
  posted(file: string, result: Posted & { takenName?: string }): void;
  failed(file: string, error: unknown): void;
  /** The server's post rate is being waited out (rate-wait.ts). */
  waiting?(wait: RateWait): void;
}

export interface BatchResult {
  posted: number;
  failed: number;
  /** Files not tried because no connection to the server could be made. */
  notTried: string[];
}

