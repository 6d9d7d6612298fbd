/**
 * Keeps streaming loops flat in memory. JavaScriptCore frees the garbage of
 * large ArrayBuffers late, so a loop that allocates a fresh chunk per read
 * grows RSS with the size of the stream; a collection every few MiB keeps a
 * 100 MiB transfer near the footprint of a 1 MiB one, for a few milliseconds.
 */
const DEFAULT_EVERY = 4 * 1024 * 1024;

export class GcPacer {
  private since = 0;

  constructor(private readonly every = DEFAULT_EVERY) {}

  /** Counts bytes that became garbage; collects when enough has piled up. */
  tick(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since = 0;
    Bun.gc(true);
  }
}
