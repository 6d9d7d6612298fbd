/**
 * Group commit (bench/README.md "Group commit"): several posters at once against one server, two
 * builds in one run, rounds interleaved so the machine's noise falls on both. Each round: a fresh
 * data directory and server of that build, POSTERS users registered, then every user's
 * `sis post --quiet DIR` of IMAGES small PNGs started together; timed from the spawns until all
 * exited 0, with the server's CPU (all threads, /proc/PID/task/x/schedstat) over the same span.
 * Small images, so the fixed costs per post (fsyncs, the SQLite commit) are most of the work.
 *   bun bench/group-commit.ts BASE_BIN NEW_BIN [POSTERS=4] [IMAGES=30] [ROUNDS=3]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register, startServe } from "../test/support/cli.ts";
import { SAMPLE } from "../test/support/share.ts";
import { clockMs, cpuNs, summarize } from "./measure.ts";

const [baseBin, newBin, ...rest] = process.argv.slice(2);
if (!baseBin || !newBin) throw new Error("usage: bun bench/group-commit.ts BASE_BIN NEW_BIN [POSTERS] [IMAGES] [ROUNDS]");
const [posters = 4, images = 30, rounds = 3] = rest.map(Number);

async function round(bin: string): Promise<{ seconds: number; serverCpuMs: number }> {
  const root = mkdtempSync(join(tmpdir(), "sis-group-commit-"));
  try {
    // The server of `bin` (startServe runs the tests' SIS; the wrapper swaps it for `bin`).
    const server = await startServe(join(root, "data"), [], { prefix: ["sh", "-c", `shift; exec "${bin}" "$@"`, "sh"] });
    try {
      const users = Array.from({ length: posters }, (_, i) => `poster${i + 1}`);
      for (const user of users) {
        const r = await register(server, user, join(root, user));
        if (r.code !== 0) throw new Error(`cannot register ${user}: ${r.stderr}`);
        const dir = join(root, `${user}-album`);
        mkdirSync(dir);
        for (let i = 0; i < images; i++) copyFileSync(SAMPLE.png, join(dir, `img-${String(i).padStart(3, "0")}.png`));
      }
      const cpuBefore = cpuNs(server.proc.pid);
      const start = clockMs();
      const procs = users.map((user) => Bun.spawn([bin, "post", "--quiet", "--home", join(root, user), join(root, `${user}-album`)], { stdout: "ignore", stderr: "pipe" }));
      for (const p of procs) if ((await p.exited) !== 0) throw new Error(`sis post failed: ${await new Response(p.stderr).text()}`);
      const seconds = (clockMs() - start) / 1000;
      return { seconds, serverCpuMs: (cpuNs(server.proc.pid) - cpuBefore) / 1e6 };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const results: Record<"base" | "new", { seconds: number[]; cpu: number[] }> = { base: { seconds: [], cpu: [] }, new: { seconds: [], cpu: [] } };
for (let r = 0; r < rounds; r++) {
  for (const [label, bin] of (r % 2 === 0 ? [["base", baseBin], ["new", newBin]] : [["new", newBin], ["base", baseBin]]) as ["base" | "new", string][]) {
    const { seconds, serverCpuMs } = await round(bin);
    results[label].seconds.push(seconds);
    results[label].cpu.push(serverCpuMs);
    console.log(`round ${r + 1} ${label}: ${posters} × ${images} posts in ${seconds.toFixed(2)} s, server CPU ${serverCpuMs.toFixed(0)} ms (load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]})`);
  }
}
for (const label of ["base", "new"] as const) {
  const s = summarize(results[label].seconds);
  const c = summarize(results[label].cpu);
  const n = posters * images;
  console.log(`${label}: median ${s.median.toFixed(2)} s (min ${s.min.toFixed(2)}), ${(n / s.median).toFixed(1)} posts/s; server CPU median ${(c.median / n).toFixed(2)} ms per post`);
}
