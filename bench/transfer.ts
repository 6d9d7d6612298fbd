/**
 * post → watch for 1, 10 and 100 MiB images, side by side with the openssl cms
 * peer, and the peak RSS of the posting client, the watcher and the server. Each size's
 * server and watcher are fresh; their first post (JavaScriptCore compiling the upload and
 * delivery paths, the first check of the owner's certificate against the CRL) is a warm-up,
 * reported apart as `post_get_*_first_s` and left out of the timed repetitions.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeBigPng } from "../test/support/share.ts";
import { MiB, procStatusBytes, resetPeak, toMiB } from "./measure.ts";
import { opensslCmsRound } from "./openssl-peer.ts";
import type { Results } from "./results.ts";
import { SisRig } from "./sis-rig.ts";

export interface SizePlan {
  mib: number;
  /** Repetitions with default stripping (timed, RSS of all three) and with --keep-metadata (client RSS). */
  reps: number;
  keepReps: number;
  /** Time the openssl peer side by side (10 and 100 MiB). */
  peer: boolean;
}

export const PLAN: SizePlan[] = [
  { mib: 1, reps: 3, keepReps: 3, peer: false },
  { mib: 10, reps: 5, keepReps: 0, peer: true },
  { mib: 100, reps: 3, keepReps: 2, peer: true },
];

/** Returns the id of one posted 10 MiB image (for the download figure). */
export async function runTransfer(rig: SisRig, opensslDir: string, results: Results, log: (line: string) => void): Promise<string> {
  let tenMibId = "";
  for (const plan of PLAN) {
    const image = join(rig.root, `image-${plan.mib}mib.png`);
    await writeBigPng(image, plan.mib * MiB);
    const outDir = join(rig.root, `out-${plan.mib}mib`);
    mkdirSync(outDir, { recursive: true });
    // A fresh server and watcher per size, so neither carries a bigger size's peak.
    const server = await rig.server();
    const watch = await rig.watcher(outDir);
    const peakResets = resetPeak(server.proc.pid) && resetPeak(watch.proc.pid);
    try {
      const warmName = `b${plan.mib}-warm-up.png`;
      const warm = await rig.postAndWait(image, warmName, watch, outDir);
      SisRig.removeDelivered(outDir, warmName);
      if (plan.mib === 10) tenMibId = warm.id;
      results.add(`post_get_${plan.mib}mib_first_s`, warm.seconds, "s", "the first post to a fresh server and watch (the warm-up): spawn of sis post → verified file");
      log(`  ${plan.mib} MiB #-1 (warm-up, first post to a fresh server and watch): post→watch ${warm.seconds.toFixed(3)} s`);
      const rounds = [...Array.from({ length: plan.reps }, () => false), ...Array.from({ length: plan.keepReps }, () => true)];
      for (const [rep, keep] of rounds.entries()) {
        const name = `b${plan.mib}-${rep}-${keep ? "keep" : "strip"}.png`;
        if (peakResets) {
          resetPeak(server.proc.pid);
          resetPeak(watch.proc.pid);
        }
        const round = await rig.postAndWait(image, name, watch, outDir, keep);
        const serverPeak = procStatusBytes(server.proc.pid, "VmHWM") ?? 0;
        const watcherPeak = procStatusBytes(watch.proc.pid, "VmHWM") ?? 0;
        SisRig.removeDelivered(outDir, name);
        const sz = `${plan.mib}mib`;
        if (keep) {
          results.add(`rss_client_keepmeta_peak_mib_${sz}`, toMiB(round.clientPeakBytes), "MiB", "sis post --keep-metadata: ru_maxrss of the process");
          results.add(`post_get_keepmeta_${sz}_s`, round.seconds, "s", "as post_get, with --keep-metadata");
        } else {
          results.add(`post_get_${sz}_s`, round.seconds, "s", "spawn of sis post → verified file in the watcher's output directory");
          results.add(`rss_client_peak_mib_${sz}`, toMiB(round.clientPeakBytes), "MiB", "sis post (default: metadata stripped): ru_maxrss");
          // With resets each repetition is a sample; without, the process's whole life is one.
          if (peakResets || rep === plan.reps - 1) {
            results.add(`rss_watcher_peak_mib_${sz}`, toMiB(watcherPeak), "MiB", "sis watch: VmHWM, reset before each repetition");
            results.add(`rss_server_peak_mib_${sz}`, toMiB(serverPeak), "MiB", "sis serve, fresh per size: VmHWM, reset before each repetition");
          }
        }
        let line = `  ${plan.mib} MiB #${rep}${keep ? " keep-metadata" : ""}: post→watch ${round.seconds.toFixed(3)} s, client ${toMiB(round.clientPeakBytes)} MiB, watcher ${toMiB(watcherPeak)} MiB, server ${toMiB(serverPeak)} MiB`;
        if (plan.peer && !keep) {
          const out = join(opensslDir, "verified.png");
          const seconds = await opensslCmsRound(opensslDir, image, out);
          results.add(`openssl_cms_${sz}_s`, seconds, "s", "openssl cms -sign → -encrypt -aes-256-gcm → -decrypt → -verify, 4 processes");
          if (Bun.file(out).size !== plan.mib * MiB) throw new Error("openssl cms round did not give back the image");
          rmSync(out, { force: true });
          line += `; openssl ${seconds.toFixed(3)} s`;
        }
        log(line);
      }
    } finally {
      await watch.stop();
      await server.stop();
    }
    rmSync(image, { force: true });
  }
  if (!PLAN.find((p) => p.mib === 10)) throw new Error("no 10 MiB image posted");
  return tenMibId;
}
