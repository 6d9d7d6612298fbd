/** Tells subscribers that DIR or an owner directory changed: fs.watch on each, polling every 500 ms where that fails. */
import { watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isValidUsername } from "../protocol/index.ts";

const POLL_MS = 500;
/** A save is several file operations (partial file, link, .p7s rename): tell subscribers once. */
const SETTLE_MS = 50;

export class DirWatcher {
  private readonly listeners = new Set<() => void>();
  private readonly watchers = new Map<string, FSWatcher>();
  private poll: ReturnType<typeof setInterval> | null = null;
  private settle: ReturnType<typeof setTimeout> | null = null;
  private lastSnapshot = "";

  constructor(readonly dir: string) {}

  /** Starts watching with the first subscriber and stops with the last; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      if (this.listeners.delete(listener) && this.listeners.size === 0) this.stop();
    };
  }

  get watching(): boolean {
    return this.listeners.size > 0;
  }

  /**
   * Files saved while the watchers are being set up would go unseen, so one notice is
   * sent as soon as they are in place: a subscriber that lists DIR after it is never behind.
   */
  private start(): void {
    if (!this.watchPath(this.dir)) {
      this.startPolling();
      return;
    }
    void this.syncOwnerWatchers().finally(() => this.changed());
  }

  private stop(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.poll) clearInterval(this.poll);
    if (this.settle) clearTimeout(this.settle);
    this.poll = this.settle = null;
  }

  private watchPath(path: string): boolean {
    if (this.watchers.has(path)) return true;
    try {
      const w = watch(path, { persistent: false }, () => {
        // A new owner directory is watched before the notice, so its next file is seen too.
        if (path === this.dir) void this.syncOwnerWatchers().finally(() => this.changed());
        else this.changed();
      });
      w.on("error", () => {
        w.close();
        this.watchers.delete(path);
        if (path === this.dir && this.watching) this.startPolling();
      });
      this.watchers.set(path, w);
      return true;
    } catch {
      return false;
    }
  }

  /** Owner directories come and go: watch each one that exists now, and drop the watchers of the rest. */
  private async syncOwnerWatchers(): Promise<void> {
    const owners = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    if (!this.watching) return;
    const wanted = new Set(owners.filter((e) => e.isDirectory() && isValidUsername(e.name)).map((e) => join(this.dir, e.name)));
    for (const [path, w] of this.watchers) {
      if (path !== this.dir && !wanted.has(path)) {
        w.close();
        this.watchers.delete(path);
      }
    }
    let ok = true;
    for (const path of wanted) ok = this.watchPath(path) && ok;
    if (!ok) this.startPolling();
  }

  private startPolling(): void {
    if (this.poll || !this.watching) return;
    this.poll = setInterval(async () => {
      const s = await this.snapshot();
      if (this.poll && s !== this.lastSnapshot) {
        this.lastSnapshot = s;
        this.changed();
      }
    }, POLL_MS);
    void this.snapshot().then((s) => {
      this.lastSnapshot = s;
      this.changed();
    });
  }

  /** Names, sizes and times of everything under DIR, one level of owners deep. */
  private async snapshot(): Promise<string> {
    const lines: string[] = [];
    for (const owner of await readdir(this.dir).catch(() => [])) {
      for (const name of await readdir(join(this.dir, owner)).catch(() => [])) {
        const st = await stat(join(this.dir, owner, name)).catch(() => null);
        lines.push(`${owner}/${name}:${st?.size}:${st?.mtimeMs}:${st?.ctimeMs}`);
      }
    }
    return lines.sort().join("\n");
  }

  private changed(): void {
    if (this.settle || !this.watching) return;
    this.settle = setTimeout(() => {
      this.settle = null;
      for (const listener of [...this.listeners]) listener();
    }, SETTLE_MS);
  }
}
