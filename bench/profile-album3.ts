/**
 * CPU profiles of all three processes of an album (bench/README.md, "Issue 17: the album's CPU"):
 * `sis serve`, `sis watch` (bob) and one `sis post DIR` (alice) of N JPEGs of 3 MiB, each run
 * through SIS_BIN: a build (CPU figures only), or bench/sis-cpu-prof.sh, which runs cli/main.ts
 * under `bun --cpu-prof` into bench/results/profile/album3/ (read them with bench/cpuprofile-top.ts).
 * Prints the CPU time (utime + stime from /proc) of each process over the album, per image and
 * per thread (main thread, Bun's pool: fs, fsync, WebCrypto; JIT; GC).
 *   SIS_BIN=dist/sis bun bench/profile-album3.ts [N=60]
 *   SIS_BIN=bench/sis-cpu-prof.sh bun bench/profile-album3.ts 60
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SIS } from "../test/support/cli.ts";
import { writeAlbum } from "./album-images.ts";
import { clockMs, MiB } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const count = Number(process.argv[2] ?? 60);

/** Minor page faults of a process (all its threads): fresh memory touched, or memory given back and touched again. */
function faults(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[7]);
}

/** utime + stime of a process and its threads, in ms (USER_HZ 100). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms per thread name (comm) of a process: which of its threads does the work. */
function threadsMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v);
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[0-9]+$/, "#");
      const f = stat.split(") ")[1]!.split(" ");
      add(comm, (Number(f[11]) + Number(f[12])) * 10);
      // The kernel's share (page cache, fsync, sockets) apart from user time, over all threads.
      add("(of which system)", Number(f[12]) * 10);
    } catch {}
  }
  return out;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>, count: number): string {
  return [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / count).toFixed(1)}`).join(", ");
}

const root = mkdtempSync(join(tmpdir(), "sis-profile-album3-"));
try {
  const rig = await SisRig.create(root);
  const dir = join(root, "album");
  const names = writeAlbum(dir, count, 3 * MiB, "img");
  const server = await rig.server(["--post-rate", "0", "--post-bytes-rate", "0"]);
  const out = join(root, "out");
  const watch = await rig.watcher(out);
  // The wrapper's exec keeps the pid: /proc/PID is the profiled process itself.
  const s0 = cpuMs(server.proc.pid);
  const w0 = cpuMs(watch.proc.pid);
  const sf0 = faults(server.proc.pid);
  const wf0 = faults(watch.proc.pid);
  const st0 = threadsMs(server.proc.pid);
  const wt0 = threadsMs(watch.proc.pid);
  const t0 = clockMs();
  const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", dir], { stdout: "ignore", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
  let postCpu = 0;
  const sampler = setInterval(() => {
    try {
      postCpu = cpuMs(post.pid);
    } catch {}
  }, 5);
  const code = await post.exited;
  clearInterval(sampler);
  const usage = post.resourceUsage();
  if (usage) postCpu = (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1000;
  const postSystem = usage ? Number(usage.cpuTime.system) / 1000 : NaN;
  if (code !== 0) throw new Error(`sis post failed: ${await new Response(post.stderr).text()}`);
  for (const name of names) await watch.waitFor(new RegExp(` saved alice/${name.replace(/[.]/g, "\\.")} `), 120_000);
  const seconds = (clockMs() - t0) / 1000;
  const s = cpuMs(server.proc.pid) - s0;
  const w = cpuMs(watch.proc.pid) - w0;
  const per = (ms: number) => (ms / count).toFixed(1);
  console.log(`${count} × 3 MiB in ${seconds.toFixed(2)} s (${((seconds * 1000) / count).toFixed(1)} ms an image)`);
  console.log(`CPU ms an image: post ${per(postCpu)} (system ${per(postSystem)}), serve ${per(s)}, watch ${per(w)}`);
  console.log(`minor page faults an image: serve ${per(faults(server.proc.pid) - sf0)}, watch ${per(faults(watch.proc.pid) - wf0)}`);
  console.log(`serve threads: ${threadDelta(st0, threadsMs(server.proc.pid), count)}`);
  console.log(`watch threads: ${threadDelta(wt0, threadsMs(watch.proc.pid), count)}`);
  await watch.stop("SIGINT");
  await server.stop("SIGINT");
} finally {
  rmSync(root, { recursive: true, force: true });
}
