/** Helpers for the image-sharing e2e tests: fixture images, big PNGs, file listings, watch lines. */
import { createHash, randomFillSync } from "node:crypto";
import { open, readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Result, WatchProcess } from "./cli.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/share");

/** Small real images made by ImageMagick (test/fixtures/share/make-images.sh), without metadata. */
export const SAMPLE = {
  png: join(FIXTURES, "sample.png"),
  jpg: join(FIXTURES, "sample.jpg"),
  gif: join(FIXTURES, "sample.gif"),
  webp: join(FIXTURES, "sample.webp"),
} as const;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Writes a PNG of exactly `size` bytes (at least 57): signature, IHDR, IDAT chunks of random
 * bytes with correct CRCs, IEND. Its chunk structure is valid (post only sniffs the magic, and
 * a metadata stripper finds nothing to remove); the pixels are noise. Written in 1 MiB pieces.
 */
export async function writeBigPng(path: string, size: number): Promise<void> {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, 4096);
  v.setUint32(4, 4096);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const head = new Uint8Array([...PNG_SIGNATURE, ...pngChunk("IHDR", ihdr)]);
  const tail = pngChunk("IEND", new Uint8Array(0));
  let left = size - head.length - tail.length;
  if (left < 12) throw new RangeError("size too small for a PNG with one IDAT chunk");
  const file = await open(path, "wx");
  try {
    await file.write(head);
    while (left > 0) {
      // Never leave fewer than 12 bytes: the next chunk needs its length, type and CRC.
      let data = Math.min(1024 * 1024, left - 12);
      if (left - (data + 12) > 0 && left - (data + 12) < 12) data -= 12;
      await file.write(pngChunk("IDAT", randomFillSync(new Uint8Array(data))));
      left -= data + 12;
    }
    await file.write(tail);
  } finally {
    await file.close();
  }
}

/** Every file under `dir` (relative paths, sorted); [] if it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  await walk("");
  return out.sort();
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

/** Whether two files hold the same bytes (src/encoding/bytes.ts sameBytes compares arrays). */
export async function sameFiles(a: string, b: string): Promise<boolean> {
  return Buffer.compare(await readFile(a), await readFile(b)) === 0;
}

/** The image id `sis post` printed for OWNER/NAME. */
export function postedId(result: Result, owner: string, name: string): string {
  const m = new RegExp(`^posted ${escapeRegExp(owner)}/${escapeRegExp(name)} id ([0-9a-f]{32}) `, "m").exec(result.stdout);
  if (!m) throw new Error(`sis post did not report ${owner}/${name}:\n${result.stdout}\n${result.stderr}`);
  return m[1]!;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Waits until a line matching `pattern` appears at index `from` or later; returns it. */
export async function waitForLineAfter(w: WatchProcess, from: number, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = w.lines.slice(from).find((l) => pattern.test(l));
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`watch never printed ${pattern} after line ${from}; it printed:\n${w.lines.join("\n")}`);
    if (w.proc.exitCode !== null) throw new Error(`watch exited (${w.proc.exitCode}) before printing ${pattern}:\n${w.lines.join("\n")}`);
    await Bun.sleep(20); // polling with a deadline: the watch's lines are the event

  }
}

/** The lines of a watch that are about one image: "saved …", "already saved …" or "refused …". */
export function imageLines(w: WatchProcess, from = 0): string[] {
  return w.lines.slice(from).filter((l) => /^\S+ (saved|already saved|refused) /.test(l));
}
