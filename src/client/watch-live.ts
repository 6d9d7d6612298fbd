/** The running watch's heartbeat in the home (watch-live.json: pid, folder, times), so the gallery can tell whether a watch is running (GA3). */
import { readFile, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { writeFileAtomic, type Home } from "./home.ts";

/** How often a watch rewrites its heartbeat; older than STALE_MS means no watch runs (it was killed hard, or the machine slept). */
export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 3 * HEARTBEAT_MS;

export interface WatchBeat {
  pid: number;
  outDir: string;
  startedAt: string;
  beatAt: string;
  /** When the watch last saved an image, ISO 8601; null before the first. */
  lastImageAt: string | null;
}

export interface WatchLiveness {
  /** True only when the heartbeat's process is alive and the heartbeat is fresh. */
  running: boolean;
  outDir: string | null;
  lastImageAt: string | null;
  beatAt: string | null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function readWatchLiveness(home: Home, now = Date.now()): Promise<WatchLiveness> {
  const text = await readFile(home.path("watchLive"), "utf8").catch(() => null);
  let beat: Partial<WatchBeat> | null = null;
  try {
    beat = text === null ? null : (JSON.parse(text) as Partial<WatchBeat>);
  } catch {
    beat = null;
  }
  if (!beat || typeof beat !== "object" || !Number.isSafeInteger(beat.pid) || typeof beat.beatAt !== "string") return { running: false, outDir: null, lastImageAt: null, beatAt: null };
  const age = now - Date.parse(beat.beatAt);
  const running = age >= -STALE_MS && age <= STALE_MS && alive(beat.pid!);
  return { running, outDir: typeof beat.outDir === "string" ? beat.outDir : null, lastImageAt: typeof beat.lastImageAt === "string" ? beat.lastImageAt : null, beatAt: beat.beatAt };
}

/** Writes the heartbeat now and every HEARTBEAT_MS until stop(), which removes it. */
export class WatchHeartbeat {
  private readonly beat: WatchBeat;
  private timer: ReturnType<typeof setInterval> | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly home: Home,
    outDir: string,
  ) {
    const now = new Date().toISOString();
    this.beat = { pid: process.pid, outDir: resolve(outDir), startedAt: now, beatAt: now, lastImageAt: null };
  }

  async start(): Promise<void> {
    await this.home.ensure();
    await this.write();
    this.timer = setInterval(() => void this.write(), HEARTBEAT_MS);
    this.timer.unref?.();
  }

  imageSaved(at = new Date()): void {
    this.beat.lastImageAt = at.toISOString();
    void this.write();
  }

  private write(): Promise<void> {
    this.writing = this.writing.then(() => {
      this.beat.beatAt = new Date().toISOString();
      return writeFileAtomic(this.home.path("watchLive"), JSON.stringify(this.beat) + "\n").catch(() => {});
    });
    return this.writing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    // Only our own heartbeat: another watch may have started on this home since.
    const text = await readFile(this.home.path("watchLive"), "utf8").catch(() => null);
    let pid: unknown = null;
    try {
      pid = text === null ? null : (JSON.parse(text) as WatchBeat).pid;
    } catch {
      pid = null;
    }
    if (pid === process.pid) await unlink(this.home.path("watchLive")).catch(() => {});
  }
}
