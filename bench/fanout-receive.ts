/**
 * Not part of run.ts: the receiving side of the fan-out alone. This process opens N sockets to a
 * child server (this file with "serve") that writes one NEW_IMAGE frame to each on request; the
 * CPU this process uses per broadcast (process.cpuUsage) is what a bench/fanout-worker.ts process
 * pays for N connections, split by what the data callback does:
 *   tcp-noop / tls-noop   a callback that only counts bytes (the floor's receivers), TCP and TLS;
 *   tls-frames            FrameDecoder.push, as src/client/connection.ts does;
 *   tls-decode            FrameDecoder.push, then decodeServerMessage of the frame (the client's path).
 * Usage: bun bench/fanout-receive.ts [N] (1250) [ROUNDS] (10).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeServerMessage, encodeMessage, FrameDecoder } from "../src/protocol/index.ts";

const image = { seq: 12345, id: "0123456789abcdef0123456789abcdef", owner: "alice", name: "fanout-3.png", size: 4096, contentType: "image/png" as const, createdAt: 1764633600000 };
const frame = encodeMessage({ type: "NEW_IMAGE", image });

if (process.argv[2] === "serve") {
  // The child: a plain and a TLS listener; "w\n" on stdin writes the frame to every socket.
  const [cert, key] = [readFileSync(process.argv[3]!, "utf8"), readFileSync(process.argv[4]!, "utf8")];
  const subs: { write(b: Uint8Array): number }[] = [];
  const socket = { open: (s: { write(b: Uint8Array): number }) => void subs.push(s), data() {} };
  const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket });
  const tls = Bun.listen({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, socket });
  console.log(JSON.stringify({ tcp: tcp.port, tls: tls.port }));
  for await (const line of console) {
    if (line.trim() === "w") for (const s of subs) s.write(frame);
    else if (line.trim() === "reset") subs.length = 0;
    else if (line.trim() === "count") console.log(subs.length);
  }
  process.exit(0);
}

const N = Number(process.argv[2] ?? 1250);
const ROUNDS = Number(process.argv[3] ?? 10);
const dir = mkdtempSync(join(tmpdir(), "sis-fanout-receive-"));
const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "1", "-subj", "/CN=localhost"], { stderr: "pipe" });
if (made.exitCode !== 0) throw new Error(`sis bench: cannot make a test certificate with openssl: ${made.stderr.toString()}`);
const child = Bun.spawn([process.execPath, import.meta.path, "serve", join(dir, "c.pem"), join(dir, "k.pem")], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
const ports = JSON.parse((await lines.read()).value!) as { tcp: number; tls: number };
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

type Mode = "tcp-noop" | "tls-noop" | "tls-frames" | "tls-decode";
async function measure(mode: Mode): Promise<number> {
  let got = 0;
  let wake: (() => void) | null = null;
  const tls = mode !== "tcp-noop";
  const sockets: { end(): void }[] = [];
  for (let i = 0; i < N; i++) {
    const decoder = new FrameDecoder({ ownsChunks: true });
    const data = (_s: unknown, bytes: Uint8Array) => {
      if (mode === "tls-frames" || mode === "tls-decode") {
        for (const f of decoder.push(bytes)) if (mode === "tls-decode") decodeServerMessage(f.payload);
      }
      if (++got === N) wake?.();
    };
    sockets.push(await Bun.connect({ hostname: "127.0.0.1", port: tls ? ports.tls : ports.tcp, ...(tls ? { tls: { rejectUnauthorized: false } } : {}), socket: { data } }));
  }
  // TLS handshakes finish at the child's pace: wait until it has every socket.
  for (;;) {
    child.stdin.write("count\n");
    child.stdin.flush();
    if (Number((await lines.read()).value) >= N) break;
    await Bun.sleep(200);
  }
  const cpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    got = 0;
    const all = new Promise<void>((resolve) => (wake = resolve));
    Bun.gc(true);
    const before = process.cpuUsage();
    child.stdin.write("w\n");
    child.stdin.flush();
    await all;
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
    await Bun.sleep(50);
  }
  for (const s of sockets) s.end();
  child.stdin.write("reset\n");
  child.stdin.flush();
  await Bun.sleep(300);
  return median(cpu);
}

for (const mode of ["tcp-noop", "tls-noop", "tls-frames", "tls-decode", "tcp-noop", "tls-noop", "tls-frames", "tls-decode"] as Mode[]) {
  const ms = await measure(mode);
  console.log(`${mode}: ${ms.toFixed(1)} ms of this process's CPU per broadcast to ${N} sockets (${((ms / N) * 1000).toFixed(1)} µs a socket)`);
}
child.kill();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
