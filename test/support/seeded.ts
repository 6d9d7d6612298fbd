/** Small seeded random sources, so a failing soak, crash or fuzz run can be replayed from its printed seed: mulberry32 for one stream, sfc32 for many streams of one seed. */

export interface Seeded {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** The next 32 bits of the stream, as an unsigned integer. */
  u32(): number;
  /** An integer in [0, n). */
  below(n: number): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Fills `bytes` with pseudo-random bytes (fast enough for megabytes). */
  fill(bytes: Uint8Array): void;
  /** `n` fresh pseudo-random bytes, one draw each (for short hostile inputs). */
  bytes(n: number): Uint8Array;
}

/** The seed from `env` (decimal) when set, else a fresh one. */
export function seedFrom(env: string | undefined): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`seed ${JSON.stringify(env)} is not a whole number`);
    return n >>> 0;
  }
  return (Math.random() * 2 ** 32) >>> 0;
}

/** One stream from a 32-bit seed (mulberry32): soak and crash rounds. */
export function seeded(seed: number): Seeded {
  let state = seed >>> 0;
  return fromU32(seed, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  });
}

/**
 * Stream `stream` of `seed` (sfc32, 128 bits of state): bench/fuzz-frames.ts draws a million
 * streams of one seed, each replayable alone from (seed, index); mulberry32's 32-bit state
 * would make such streams overlap.
 */
export function seededStream(seed: number, stream: number): Seeded {
  let a = seed >>> 0;
  let b = stream >>> 0;
  let c = (Math.floor(stream / 2 ** 32) ^ 0x9e3779b9) >>> 0;
  let d = 1;
  const next32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  return fromU32(seed, next32);
}

function fromU32(seed: number, next32: () => number): Seeded {
  const next = () => next32() / 2 ** 32;
  return {
    seed,
    next,
    u32: next32,
    below: (n) => Math.floor(next() * n),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    fill(bytes) {
      // xorshift32 seeded from the main stream: cheap per word, and reproducible.
      let x = next32() || 1;
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = x >>> 0;
      }
      for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = next32() & 0xff;
    },
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next32() & 0xff;
      return out;
    },
  };
}
