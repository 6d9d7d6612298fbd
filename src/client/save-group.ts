/**
 * Several images saved by one watch in a row share their directory fsyncs: each save leaves its
 * folder to be synced here instead of syncing it itself, and what acknowledges a save (the
 * "saved" line, onImage, the watch's position) waits for flush(), which syncs each folder once.
 * So the position file is never ahead of a durable file, and no "saved" is said before it is.
 */
import { fsyncDir } from "../runtime/fsync-dir.ts";

/** Images a group holds before it is flushed, so an acknowledgement waits a few images at most. */
export const MAX_GROUP = 16;

/** Where a save leaves the folder whose entries must reach the disk before it is acknowledged. */
export interface DirSyncs {
  add(dir: string): void;
}

export class SaveGroup implements DirSyncs {
  private readonly dirs = new Set<string>();
  private acks: (() => void)[] = [];
  private images = 0;

  add(dir: string): void {
    this.dirs.add(dir);
  }

  /** An image was handled (saved, refused or skipped); `ack` runs once everything before it is durable. */
  handled(ack: () => void): void {
    this.acks.push(ack);
    this.images++;
  }

  /** The folders waiting for their fsync. */
  get folders(): ReadonlySet<string> {
    return this.dirs;
  }

  get full(): boolean {
    return this.images >= MAX_GROUP;
  }

  get empty(): boolean {
    return this.images === 0;
  }

  /** Syncs each folder once, then acknowledges every image handled since the last flush, in order. A failed sync acknowledges none. */
  async flush(): Promise<void> {
    for (const dir of this.dirs) await fsyncDir(dir);
    this.dirs.clear();
    const acks = this.acks;
    this.acks = [];
    this.images = 0;
    for (const ack of acks) ack();
  }
}
