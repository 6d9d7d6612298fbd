/** Content keys of recently downloaded images, unwrapped once for all their receivers. */

/** A new image is fetched by every watcher within moments; a minute covers that burst. */
const DEFAULT_TTL_MS = 60_000;
const DEFAULT_MAX_ENTRIES = 64;

interface Entry {
  wrapped: Uint8Array;
  key: Promise<Uint8Array>;
  expires: number;
}

/**
 * DOWNLOAD re-wraps the image key for each requester (P24); the unwrap is an
 * RSA-3072 private-key operation (~3 ms of CPU). When NEW_IMAGE reaches N
 * watchers, N downloads of one image follow: with this cache they cost one
 * unwrap, and concurrent requests share the one in flight.
 *
 * Why this is safe: the server holds the storage private key in memory for
 * its whole life, and that key opens every content key; a few recently used
 * content keys in memory reveal nothing more to someone who can read it. An
 * entry is used only for the same image id *and* the same wrapped bytes,
 * expires after `ttlMs`, and is zeroed when it leaves. Callers get a copy
 * they may zero. Images are immutable and ids never reused, so an entry can
 * never be stale.
 */
export class ContentKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly unwrap: (wrapped: Uint8Array) => Promise<Uint8Array>,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
    private readonly ttlMs = DEFAULT_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The content key of image `id`, whose stored wrapped key is `wrapped`; a copy the caller owns. */
  async get(id: string, wrapped: Uint8Array): Promise<Uint8Array> {
    const now = this.now();
    this.expire(now);
    let entry = this.entries.get(id);
    if (entry && !Buffer.from(entry.wrapped.buffer, entry.wrapped.byteOffset, entry.wrapped.byteLength).equals(wrapped)) {
      this.drop(id, entry);
      entry = undefined;
    }
    if (!entry) {
      const created: Entry = { wrapped: wrapped.slice(), key: this.unwrap(wrapped), expires: now + this.ttlMs };
      entry = created;
      this.entries.set(id, created);
      // A failed unwrap is not remembered: the next request tries again and reports its own error.
      created.key.catch(() => {
        if (this.entries.get(id) === created) this.entries.delete(id);
      });
      // Insertion order is expiry order: the oldest entry goes first.
      for (const [oldId, old] of this.entries) {
        if (this.entries.size <= this.maxEntries) break;
        this.drop(oldId, old);
      }
    }
    return (await entry.key).slice();
  }

  /**
   * Seeds the entry of a new image with the key its POST_IMAGE check already unwrapped, so the
   * downloads that follow its NEW_IMAGE cost no RSA operation at all. Takes a copy.
   */
  put(id: string, wrapped: Uint8Array, key: Uint8Array): void {
    const now = this.now();
    this.expire(now);
    const old = this.entries.get(id);
    if (old) this.drop(id, old);
    this.entries.set(id, { wrapped: wrapped.slice(), key: Promise.resolve(key.slice()), expires: now + this.ttlMs });
    for (const [oldId, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      this.drop(oldId, entry);
    }
  }

  /** Zeroes and forgets the entries past their time; called on a timer, so a quiet server keeps none. */
  sweep(): void {
    this.expire(this.now());
  }

  /** Zeroes and forgets every entry. */
  clear(): void {
    for (const [id, entry] of this.entries) this.drop(id, entry);
  }

  private expire(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.expires > now) break;
      this.drop(id, entry);
    }
  }

  private drop(id: string, entry: Entry): void {
    if (this.entries.get(id) === entry) this.entries.delete(id);
    void entry.key.then((key) => key.fill(0), () => {});
  }
}
