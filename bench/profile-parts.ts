/**
 * Where the time of a 100 MiB post → watch can go: each step of the path timed
 * alone, in this process, on the same bytes (`bun bench/profile-parts.ts [MiB]`).
 * The CPU profiles of the three real processes come from bench/profile.ts.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImageDigest, generateContentKey, newHeader, openStream, encodeHeader, sealStream } from "../src/crypto/index.ts";
import { crc32 as zlibCrc32 } from "node:zlib";
import { stripBytes } from "../src/image/strip-bytes.ts";
import { encodeData, FrameDecoder, MAX_DATA_FRAME } from "../src/protocol/index.ts";
import { writeBigPng } from "../test/support/share.ts";
import { clockMs, MiB } from "./measure.ts";

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function jsCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const size = Number(process.argv[2] ?? 100) * MiB;
const dir = mkdtempSync(join(tmpdir(), "sis-parts-"));
const file = join(dir, "image.png");
await writeBigPng(file, size);
const rows: [string, number][] = [];
/** The fastest of three runs: the machine is shared, and noise only ever adds time. */
async function step<T>(name: string, f: () => T | Promise<T>): Promise<T> {
  let best = Infinity;
  let out!: T;
  for (let i = 0; i < 3; i++) {
    const t0 = clockMs();
    out = await f();
    best = Math.min(best, clockMs() - t0);
  }
  rows.push([name, best]);
  return out;
}

try {
  const bytes = await step("read the whole file (post reads it twice, in 1 MiB pieces)", async () => new Uint8Array(await Bun.file(file).arrayBuffer()));
  await step("stripBytes over the whole image (post runs the same walk twice, streamed)", () => stripBytes("image/png", bytes));
  await step("  for scale: a JS table CRC-32 over all bytes (the stripper at 3e36dfb)", () => jsCrc32(bytes));
  await step("  for scale: node:zlib crc32 over all bytes", () => zlibCrc32(bytes));
  await step("SHA-256, one pass (post does two, watch one)", () => {
    const d = createImageDigest();
    for (let at = 0; at < bytes.length; at += MiB) d.update(bytes.subarray(at, at + MiB));
    return d.digest();
  });
  const key = generateContentKey();
  const header = newHeader({ owner: "alice", name: "x.png", contentType: "image/png", size: bytes.length });
  async function* pieces() {
    for (let at = 0; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB);
  }
  const sealed = await step("AES-256-GCM seal, 64 KiB chunks", async () => {
    const out: Uint8Array[] = [];
    for await (const c of sealStream(key, header, pieces())) out.push(c);
    return out;
  });
  const frames = await step("frame encoding (encodeData copies each ≤256 KiB payload)", () => {
    const out: Uint8Array[] = [];
    for (const c of sealed) for (let at = 0; at < c.length; at += MAX_DATA_FRAME) out.push(encodeData(c.subarray(at, at + MAX_DATA_FRAME)));
    return out;
  });
  await step("frame decoding (FrameDecoder allocates + copies each payload)", () => {
    const d = new FrameDecoder();
    for (const f of frames) d.push(f);
  });
  await step("AES-256-GCM open, 64 KiB chunks", async () => {
    async function* cipher() {
      yield* sealed;
    }
    for await (const _ of openStream(key, encodeHeader(header), cipher())) {
      // consumed
    }
  });
  for (const [label, path] of [["write 100 MiB in 64 KiB writes + fsync (watcher's output)", join(dir, "out")]] as const) {
    await step(label, async () => {
      const h = await open(path, "w");
      for (let at = 0; at < bytes.length; at += 64 * 1024) await h.write(bytes.subarray(at, at + 64 * 1024));
      await h.sync();
      await h.close();
    });
  }
  await step("write 100 MiB in 1 MiB writes + fsync (server blob)", async () => {
    const h = await open(join(dir, "blob"), "w");
    for (let at = 0; at < bytes.length; at += MiB) await h.write(bytes.subarray(at, at + MiB));
    await h.sync();
    await h.close();
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`| step (${size / MiB} MiB) | ms |\n|---|---:|`);
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} |`);
