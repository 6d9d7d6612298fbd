/** Bounds-checked byte reading and output assembly shared by the metadata strippers. */

/** The input is not a well-formed image of the claimed kind; nothing was written. */
export class StripError extends Error {
  override readonly name = "StripError";
}

/** Throws unless `count` bytes starting at `at` lie inside `bytes`: every read goes through here. */
export function need(bytes: Uint8Array, at: number, count: number, what: string): void {
  if (at < 0 || count < 0 || at + count > bytes.length) throw new StripError(`${what}: truncated`);
}

export function u16be(bytes: Uint8Array, at: number, what: string): number {
  need(bytes, at, 2, what);
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

export function u32be(bytes: Uint8Array, at: number, what: string): number {
  need(bytes, at, 4, what);
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

export function u32le(bytes: Uint8Array, at: number, what: string): number {
  need(bytes, at, 4, what);
  return ((bytes[at + 3]! << 24) >>> 0) + ((bytes[at + 2]! << 16) | (bytes[at + 1]! << 8) | bytes[at]!);
}

/** Latin-1 text of `count` bytes at `at` (a tag or chunk name; never decoded as UTF-8). */
export function ascii(bytes: Uint8Array, at: number, count: number, what: string): string {
  need(bytes, at, count, what);
  return String.fromCharCode(...bytes.subarray(at, at + count));
}

/** True when `bytes` holds the Latin-1 text `prefix` at `at` (false, not an error, when too short). */
export function hasPrefix(bytes: Uint8Array, at: number, prefix: string): boolean {
  if (at < 0 || at + prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** Collects the kept slices of the input and the names of what was dropped, then joins them once. */
export class Rebuild {
  private readonly parts: Uint8Array[] = [];
  private readonly dropped: string[] = [];

  constructor(private readonly input: Uint8Array) {}

  keep(start: number, end: number): void {
    if (end > start) this.parts.push(this.input.subarray(start, end));
  }

  /** Kept bytes that differ from the input (a patched header); copied so the input is never aliased. */
  add(bytes: Uint8Array): void {
    this.parts.push(bytes.slice());
  }

  drop(name: string): void {
    if (!this.dropped.includes(name)) this.dropped.push(name);
  }

  finish(): { bytes: Uint8Array; removed: string[] } {
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return { bytes: out, removed: [...this.dropped] };
  }
}
