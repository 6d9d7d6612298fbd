/** Image files for the durability tests: a real PNG signature (post sniffs magic bytes) followed by seeded random bytes. */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { Seeded } from "./seeded.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface TestImage {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** Writes `size` bytes (at least the 8-byte signature) to `dir/name`. */
export async function writeTestImage(dir: string, name: string, size: number, rng: Seeded): Promise<TestImage> {
  const bytes = new Uint8Array(Math.max(size, PNG_SIGNATURE.length));
  rng.fill(bytes);
  bytes.set(PNG_SIGNATURE, 0);
  const path = `${dir}/${name}`;
  await writeFile(path, bytes);
  return { path, name, size: bytes.length, sha256: sha256(bytes) };
}

/** Sizes spread evenly on a log scale from `min` to `max` bytes, jittered by the seed. */
export function logSizes(count: number, min: number, max: number, rng: Seeded): number[] {
  const span = Math.log(max / min);
  return Array.from({ length: count }, (_, i) => {
    const at = count === 1 ? rng.next() : (i + rng.next() * 0.5) / (count - 0.5);
    return Math.min(max, Math.max(min, Math.round(min * Math.exp(span * at))));
  });
}
