/**
 * Not part of run.ts: the two per-subscriber costs of the NEW_IMAGE fan-out, each alone.
 * 1. The server's side: one 300-byte write to each of N sockets on one event loop, TLS against
 *    plain TCP (the floor of bench/floor-server.ts), in the same process, 127.0.0.1.
 * 2. The receiving side: decodeServerMessage of one NEW_IMAGE, IMAGE_DELETED and DELIVERED (UTF-8,
 *    depth check, JSON, the hand-written check of server-checks.ts, P7) against JSON.parse and the
 *    zod schema (the path before the checks) and JSON.parse alone; bench/fanout-worker.ts decodes a
 *    NEW_IMAGE once per connection, 1,250 connections a process.
 * Usage: bun bench/fanout-parts.ts [N] (1000); N = 0 skips the writes.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeServerMessage, encodeMessage } from "../src/protocol/index.ts";
import { SERVER_SCHEMAS } from "../src/protocol/messages.ts";

const N = Number(process.argv[2] ?? 1000);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

const dir = mkdtempSync(join(tmpdir(), "sis-fanout-parts-"));
const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "1", "-subj", "/CN=localhost"], { stderr: "pipe" });
if (made.exitCode !== 0) throw new Error(`sis bench: cannot make a test certificate with openssl: ${made.stderr.toString()}`);
const cert = readFileSync(join(dir, "c.pem"), "utf8");
const key = readFileSync(join(dir, "k.pem"), "utf8");
rmSync(dir, { recursive: true, force: true });

/** Median ms of the loop that writes one frame to every one of N accepted sockets (7 rounds, each awaited to the last receiver). */
async function writeLoop(tls: boolean): Promise<number> {
  const accepted: { write(b: Uint8Array): number }[] = [];
  let got = 0;
  let wake: (() => void) | null = null;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, ...(tls ? { tls: { cert, key } } : {}), socket: { open: (s) => void accepted.push(s), data() {} } });
  const clients = [];
  for (let i = 0; i < N; i++) {
    clients.push(await Bun.connect({ hostname: "127.0.0.1", port: server.port, ...(tls ? { tls: { rejectUnauthorized: false } } : {}), socket: { data: () => void (++got === N && wake?.()) } }));
  }
  while (accepted.length < N) await Bun.sleep(10);
  await Bun.sleep(200);
  const frame = new Uint8Array(300).fill(0x7b);
  const loops: number[] = [];
  for (let rep = 0; rep < 7; rep++) {
    got = 0;
    const all = new Promise<void>((resolve) => (wake = resolve));
    const t0 = performance.now();
    for (const s of accepted) s.write(frame);
    loops.push(performance.now() - t0);
    await all;
    await Bun.sleep(50);
  }
  for (const c of clients) c.end();
  server.stop(true);
  return median(loops);
}

for (const tls of N > 0 ? [false, true, false, true] : []) {
  const ms = await writeLoop(tls);
  console.log(`${tls ? "TLS" : "TCP"}: one write to each of ${N} sockets ${ms.toFixed(1)} ms (${((ms / N) * 1000).toFixed(1)} µs a socket)`);
}

const image = { seq: 12345, id: "0123456789abcdef0123456789abcdef", owner: "alice", name: "fanout-3.png", size: 4096, contentType: "image/png" as const, createdAt: Date.now() };
const signature = Buffer.alloc(3_000, 0xa5).toString("base64");
const pushes = [
  { type: "NEW_IMAGE", image },
  { type: "IMAGE_DELETED", image: { seq: image.seq, id: image.id, owner: image.owner, name: image.name } },
  { type: "DELIVERED", delivery: 7, image, signature },
] as const;
const text = new TextDecoder();
const per = (f: () => void, n = 20_000) => {
  for (let i = 0; i < 2000; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t0) / n) * 1000;
};
// decodeServerMessage tries the hand-written check first (src/protocol/server-checks.ts); the zod
// schema alone, after the same JSON.parse, is what it cost before.
for (const message of pushes) {
  const payload = encodeMessage(message).subarray(5);
  const schema = SERVER_SCHEMAS[message.type];
  const codec = per(() => decodeServerMessage(payload));
  const zod = per(() => schema.safeParse(JSON.parse(text.decode(payload))));
  const json = per(() => JSON.parse(text.decode(payload)));
  console.log(`${message.type} (${payload.length} bytes): decodeServerMessage ${codec.toFixed(1)} µs, JSON.parse + zod schema ${zod.toFixed(1)} µs, JSON.parse alone ${json.toFixed(1)} µs`);
}
process.exit(0);
