/**
 * The watcher's peak RSS alone, as bench/transfer.ts takes it (VmHWM reset before each
 * repetition, a fresh server and watcher per size), for 1 and 100 MiB posts: the figures
 * rss_watcher_peak_mib_{1,100}mib and their goal (≤ 1.3×). The watch runs with SIS_DEBUG so the
 * line says how many images came by cut-through (a watcher that fell back to downloads would
 * measure another data path). Run it with SIS_BIN=<binary> to compare two builds in one sitting:
 *   for b in /tmp/a/sis dist/sis /tmp/a/sis dist/sis; do SIS_BIN=$b bun bench/rss-watcher.ts; done
 * SIS_BENCH_REPS=N repetitions per size (3); SIS_BENCH_WATCH_MAX=2 makes the watch offer version 2 at
 * most (downloads only: the data path before cut-through); SIS_BENCH_DEBUG=1 prints the watch's
 * debug lines (which deliveries the server dropped, and why).
 */
import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SIS, startWatch } from "../test/support/cli.ts";
import { writeBigPng } from "../test/support/share.ts";
import { cpuNs, MiB, procStatusBytes, resetPeak, summarize, toMiB } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const reps = Number(process.env.SIS_BENCH_REPS ?? 3);
const root = mkdtempSync(join(tmpdir(), "sis-rss-"));
const out: Record<string, unknown> = { bin: SIS };
try {
  const rig = await SisRig.create(root);
  for (const mib of [1, 100]) {
    const image = join(root, `image-${mib}mib.png`);
    await writeBigPng(image, mib * MiB);
    const outDir = join(root, `out-${mib}mib`);
    mkdirSync(outDir, { recursive: true });
    const server = await rig.server();
    const watch = startWatch(rig.bob, outDir, { env: { SIS_DEBUG: "1", ...(process.env.SIS_BENCH_WATCH_MAX ? { SIS_PROTOCOL_MAX: process.env.SIS_BENCH_WATCH_MAX } : {}) } });
    await watch.waitFor(/ connected to /, 30_000);
    const peaks: number[] = [];
    const cpu: number[] = [];
    const seconds: number[] = [];
    try {
      for (let rep = 0; rep < reps; rep++) {
        const name = `r${mib}-${rep}.png`;
        resetPeak(watch.proc.pid);
        const cpu0 = cpuNs(watch.proc.pid);
        seconds.push(Math.round((await rig.postAndWait(image, name, watch, outDir)).seconds * 1000) / 1000);
        peaks.push(toMiB(procStatusBytes(watch.proc.pid, "VmHWM") ?? 0));
        cpu.push(Math.round((cpuNs(watch.proc.pid) - cpu0) / 1e6));
        SisRig.removeDelivered(outDir, name);
      }
    } finally {
      await watch.stop();
      await server.stop();
    }
    const cut = watch.lines.filter((l) => /came by cut-through/.test(l)).length;
    const drops = watch.lines.filter((l) => /dropped its cut-through/.test(l)).length;
    // Version 4 (PROTOCOL.md P23a, P45): a dropped delivery completed by a ranged DOWNLOAD of its tail.
    const resumed = watch.lines.filter((l) => /resumed its dropped delivery/.test(l)).length;
    if (process.env.SIS_BENCH_DEBUG) for (const l of watch.lines) if (/debug:/.test(l)) console.error(l);
    out[`${mib}mib`] = { peakMiB: summarize(peaks), watcherCpuMs: summarize(cpu), postGetS: summarize(seconds), cutThrough: `${cut}/${reps}`, dropped: drops, resumed };
    rmSync(image, { force: true });
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const one = (out["1mib"] as { peakMiB: { median: number } }).peakMiB.median;
const hundred = (out["100mib"] as { peakMiB: { median: number } }).peakMiB.median;
out.ratio = Math.round((hundred / one) * 100) / 100;
console.log(JSON.stringify(out));
