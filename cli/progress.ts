/** A progress bar on stderr for transfers over a few MiB: only on a terminal, never with --quiet. */
import { formatSize } from "./format.ts";

const MIN_BYTES = 4 * 1024 * 1024;
const REDRAW_MS = 100;

export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

export function progressReporter(label: string, quiet: boolean, given?: NodeJS.WriteStream): Progress {
  // Quiet first: process.stderr is made on first use, and making it costs a `sis post` ~3 ms of start-up.
  if (quiet) return { update() {}, done() {} };
  const stream = given ?? process.stderr;
  if (!stream.isTTY) return { update() {}, done() {} };
  const start = performance.now();
  let last = -Infinity; // the first update always draws, even in a process younger than REDRAW_MS
  let drawn = false;
  return {
    update(done, total) {
      const now = performance.now();
      if (total < MIN_BYTES || (now - last < REDRAW_MS && done < total)) return;
      last = now;
      drawn = true;
      const seconds = (now - start) / 1000;
      const rate = done / Math.max(seconds, 0.001);
      const eta = rate > 0 ? Math.ceil((total - done) / rate) : 0;
      const width = 24;
      const filled = Math.round((done / total) * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      stream.write(`\r${label} [${bar}] ${formatSize(done)}/${formatSize(total)} ${formatSize(rate)}/s ETA ${eta}s\x1b[K`);
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}
