/** Bounds-checked byte reading shared by the format walkers, and the error they all throw. */

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

/** The parts joined into one new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Adds `name` to the list of what was dropped, once: the list reads as a summary, in file order. */
export function noteDropped(removed: string[], name: string): void {
  if (!removed.includes(name)) removed.push(name);
}
