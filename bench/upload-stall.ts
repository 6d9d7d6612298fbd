/**
 * The event-loop stall of concurrent uploads: UPLOADS uploads of MIB MiB each
 * (default 10 × 100 MiB) stream into one fresh `sis serve` while another
 * authenticated connection sends PING every 10 ms and times each PONG. Prints
 * the round trips (max, p99, median) during the uploads and, for comparison,
 * while the server is idle, and the server's CPU time for the uploads (from
 * /proc: on a busy machine the round trips also count waiting for a core, the
 * CPU time does not). Everything the server does on its one event loop for an
 * upload (decoding, writing, any collection it runs) delays the PONGs.
 * Usage: bun run build && bun bench/upload-stall.ts [UPLOADS] [MIB]
 * (SIS_BIN selects another binary.)
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Home } from "../src/client/home.ts";
import { connectAs } from "../src/client/session.ts";
import type { Connection } from "../src/client/connection.ts";
import { MAX_UPLOADS_PER_USER } from "../src/protocol/index.ts";
import { register, startServe } from "../test/support/cli.ts";
import { spawnChild, type Child } from "./child-process.ts";
import { clockMs, summarize } from "./measure.ts";

const uploads = Number(process.argv[2] ?? 10);
const mib = Number(process.argv[3] ?? 100);
const PING_EVERY_MS = 10;
const IDLE_MS = 2_000;
const log = (line: string) => process.stderr.write(line + "\n");

/** PINGs every PING_EVERY_MS, one at a time, until stopped; the round trips in ms. */
function pinger(conn: Connection): { stop(): Promise<number[]> } {
  const rtts: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = clockMs();
      const reply = await conn.request({ type: "PING" }, 60_000);
      if (reply.type !== "PONG") throw new Error(`PING answered with ${reply.type}`);
      const rtt = clockMs() - t0;
      rtts.push(rtt);
      await Bun.sleep(Math.max(0, PING_EVERY_MS - rtt));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return rtts;
    },
  };
}

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function describe(label: string, rtts: number[]): string {
  const s = summarize(rtts);
  const sorted = [...rtts].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  return `${label}: ${rtts.length} PINGs, round trip max ${s.max.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, median ${s.median.toFixed(1)} ms`;
}

const root = mkdtempSync(join(tmpdir(), "sis-stall-"));
const children: Child[] = [];
try {
  // Uploads per user are limited, so enough users to carry them all, and one more for the PINGs.
  const users = Array.from({ length: Math.ceil(uploads / MAX_UPLOADS_PER_USER) + 1 }, (_, i) => `user${i}`);
  const data = join(root, "data");
  // Registration runs argon2id on the server; it happens on a first server, stopped before measuring.
  const first = await startServe(data);
  const port = first.port;
  try {
    for (const user of users) {
      const r = await register(first, user, join(root, user));
      if (r.code !== 0) throw new Error(`cannot register ${user}: ${r.stderr}`);
    }
  } finally {
    await first.stop();
  }
  const server = await startServe(data, ["--port", String(port)]);
  try {
    const [pingUser, ...uploaders] = users;
    let left = uploads;
    for (const user of uploaders) {
      const count = Math.min(MAX_UPLOADS_PER_USER, left);
      left -= count;
      children.push(spawnChild("upload-stall-worker.ts", [join(root, user), String(count), String(mib)]));
    }
    for (const child of children) await child.next((l) => "ready" in l, 120_000, "ready");
    const conn = await connectAs(await new Home(join(root, pingUser!)).credentials(), 60_000);
    log(`${uploads} uploads of ${mib} MiB ready (UPLOAD_READY) on ${server.port}; PING every ${PING_EVERY_MS} ms`);

    const idle = pinger(conn);
    await Bun.sleep(IDLE_MS);
    const idleRtts = await idle.stop();

    const busy = pinger(conn);
    const cpu0 = cpuSeconds(server.proc.pid);
    const t0 = clockMs();
    for (const child of children) child.send({ cmd: "go" });
    for (const child of children) await child.next((l) => "done" in l, 600_000, "done");
    const seconds = (clockMs() - t0) / 1000;
    const cpu = cpuSeconds(server.proc.pid) - cpu0;
    const busyRtts = await busy.stop();
    conn.close();

    process.stdout.write(`${describe("idle", idleRtts)}\n`);
    process.stdout.write(`${describe(`${uploads} × ${mib} MiB uploads (${seconds.toFixed(1)} s, server CPU ${cpu.toFixed(2)} s)`, busyRtts)}\n`);
  } finally {
    await server.stop();
  }
} finally {
  for (const child of children) await child.stop();
  rmSync(root, { recursive: true, force: true });
}
