/** Helpers for envelope stream tests: sources, collection, error codes, deterministic data. */
import { EnvelopeError } from "../../src/crypto/index.ts";

/** Yields `data` in pieces of the given sizes, cycling through them. */
export async function* pieces(data: Uint8Array, sizes: number[] = [data.length || 1]): AsyncGenerator<Uint8Array> {
  let i = 0;
  for (let at = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    yield data.subarray(at, at + n);
    at += n;
  }
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<{ bytes: Uint8Array; maxPiece: number; count: number }> {
  const parts: Uint8Array[] = [];
  let maxPiece = 0;
  for await (const p of source) {
    parts.push(p);
    maxPiece = Math.max(maxPiece, p.length);
  }
  return { bytes: new Uint8Array(Buffer.concat(parts)), maxPiece, count: parts.length };
}

/** The EnvelopeError code a promise rejects with, or "ok". */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
