/**
 * Where the CPU of one `sis post FILE` → running `sis watch` goes (bench/README.md, "Issue 17 on
 * the new machine"): for each size, N posts of a PNG of that size, each timed from the spawn of
 * `sis post` to the file in the watcher's folder, with the CPU time of the three processes over
 * the post: the poster's user and system time (its rusage), the server's and the watcher's
 * (every thread, /proc/PID/task/x/schedstat). The first post of each size warms up and is left out.
 *   bun bench/post-cpu.ts [MiB,MiB,…=1,10,40] [N=6]        (needs dist/sis: npm run build)
 * PROFILE_POST=DIR: the last post of each size runs under `--cpu-prof` (BUN_OPTIONS), into DIR.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBigPng } from "../test/support/share.ts";
import { SIS } from "../test/support/cli.ts";
import { clockMs, cpuNs, MiB, summarize } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const sizes = (process.argv[2] ?? "1,10,40").split(",").map(Number);
const posts = Number(process.argv[3] ?? 6);
const profileDir = process.env.PROFILE_POST;

const root = mkdtempSync(join(tmpdir(), "sis-post-cpu-"));
try {
  const rig = await SisRig.create(root);
  const server = await rig.server(["--post-rate", "0", "--post-bytes-rate", "0"]);
  const out = join(root, "out");
  const watch = await rig.watcher(out);
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" };
  const med = (xs: number[]) => summarize(xs).median.toFixed(1);
  for (const mib of sizes) {
    const image = join(root, `${mib}.png`);
    await writeBigPng(image, mib * MiB);
    const rows = { saved: [] as number[], exit: [] as number[], user: [] as number[], system: [] as number[], serve: [] as number[], watch: [] as number[] };
    for (let i = 0; i <= posts; i++) {
      const name = `p${mib}-${i}.png`;
      const profiled = profileDir && i === posts ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-interval=${process.env.PROFILE_INTERVAL_US ?? 1000} --cpu-prof-dir=${join(profileDir, `${mib}mib`)}` } : {};
      const s0 = cpuNs(server.proc.pid);
      const w0 = cpuNs(watch.proc.pid);
      const t0 = clockMs();
      const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", "--name", name, image], { stdout: "ignore", stderr: "pipe", env: { ...env, ...profiled } });
      let exitAt = 0;
      void post.exited.then(() => (exitAt = clockMs()));
      while (!existsSync(join(out, "alice", name))) {
        if (post.exitCode !== null && post.exitCode !== 0) throw new Error(`sis post failed: ${await new Response(post.stderr).text()}`);
        await Bun.sleep(1);
      }
      const saved = clockMs() - t0;
      await post.exited;
      await watch.waitFor(new RegExp(`saved alice/${name.replace(/[.]/g, "\\.")} `), 60_000);
      const usage = post.resourceUsage()!;
      if (i === 0) continue;
      rows.saved.push(saved);
      rows.exit.push(exitAt - t0);
      rows.user.push(Number(usage.cpuTime.user) / 1000);
      rows.system.push(Number(usage.cpuTime.system) / 1000);
      rows.serve.push((cpuNs(server.proc.pid) - s0) / 1e6);
      rows.watch.push((cpuNs(watch.proc.pid) - w0) / 1e6);
      SisRig.removeDelivered(out, name);
    }
    const post = rows.user.map((u, k) => u + rows.system[k]!);
    console.log(`${mib} MiB, ${posts} posts, medians: saved ${med(rows.saved)} ms (post exited ${med(rows.exit)}); CPU ms: post ${med(post)} (user ${med(rows.user)}, system ${med(rows.system)}), serve ${med(rows.serve)}, watch ${med(rows.watch)}`);
  }
  await watch.stop();
  await server.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}
