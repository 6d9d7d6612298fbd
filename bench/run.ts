/**
 * `npm run bench`: every figure of issue #6 in one run, printed as a table and
 * written to bench/results/latest.json with the machine's description.
 * Set SIS_BENCH_QUICK=1 for a smoke run (fewer connections and repetitions, a 20-image album).
 * `bun bench/run.ts album` (npm run bench:album) runs the album section alone and writes
 * bench/results/album.json instead; `bun bench/run.ts fanout` the fan-out alone (bench/results/fanout.json),
 * with SIS_BENCH_FANOUT_REPS repetitions (15); `bun bench/run.ts download` the downloads alone
 * (bench/results/download.json), of a 10 MiB image it posts first; `bun bench/run.ts transfer` the
 * post → watch figures (1, 10, 100 MiB beside openssl cms) alone (bench/results/transfer.json).
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { albumPlan, runAlbum } from "./album.ts";
import { runDownload } from "./download.ts";
import { runFanout } from "./fanout.ts";
import { describeMachine } from "./machine.ts";
import { clockMs, MiB } from "./measure.ts";
import { SIS } from "../test/support/cli.ts";
import { writeBigPng } from "../test/support/share.ts";
import { makeOpensslCerts } from "./openssl-peer.ts";
import { renderTable, writeJson } from "./report.ts";
import { Results } from "./results.ts";
import { SisRig } from "./sis-rig.ts";
import { runStartup } from "./startup.ts";
import { PLAN, runTransfer } from "./transfer.ts";

const quick = process.env.SIS_BENCH_QUICK === "1";
const FANOUT = { connections: quick ? 500 : 5000, workers: 4, reps: Number(process.env.SIS_BENCH_FANOUT_REPS) || (quick ? 3 : 15) };
const DOWNLOAD = { downloaders: 50, reps: quick ? 2 : 3 };
const STARTUP_REPS = 15;
const ALBUM = albumPlan(quick);
const section = process.argv[2];
const albumOnly = section === "album";
const fanoutOnly = section === "fanout";
const downloadOnly = section === "download";
const transferOnly = section === "transfer";
if (section !== undefined && !albumOnly && !fanoutOnly && !downloadOnly && !transferOnly) throw new Error(`sis bench: cannot run section ${JSON.stringify(section)}: the sections that run alone are "album", "fanout", "download" and "transfer"`);
const OUT = resolve(import.meta.dir, "results", section ? `${section}.json` : "latest.json");

const log = (line: string) => process.stderr.write(line + "\n");
const started = clockMs();
const elapsed = () => `${((clockMs() - started) / 1000).toFixed(0)} s`;
const machine = describeMachine();
const source = Bun.spawnSync(["git", "describe", "--always", "--dirty"], { cwd: import.meta.dir }).stdout.toString().trim();
log(`sis bench (${source}) on ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load ${machine.loadAverage1m}, open files ${machine.openFilesLimit}`);

const root = mkdtempSync(join(tmpdir(), "sis-bench-"));
const results = new Results();
try {
  const opensslDir = join(root, "openssl");
  mkdirSync(opensslDir);
  makeOpensslCerts(opensslDir);
  const rig = await SisRig.create(root);
  if (fanoutOnly) {
    log(`[${elapsed()}] fan-out to ${FANOUT.connections} watchers beside a plain TCP floor`);
    await runFanout(rig, results, FANOUT, log);
  } else if (downloadOnly) {
    log(`[${elapsed()}] ${DOWNLOAD.downloaders} concurrent downloads beside one TLS stream`);
    await runDownload(rig, await postTenMib(rig, root), opensslDir, results, DOWNLOAD, log);
  } else if (transferOnly) {
    await transfer(rig, opensslDir);
  } else if (!albumOnly) {
    const tenMibId = await transfer(rig, opensslDir);

    log(`[${elapsed()}] fan-out to ${FANOUT.connections} watchers beside a plain TCP floor`);
    await runFanout(rig, results, FANOUT, log);

    log(`[${elapsed()}] ${DOWNLOAD.downloaders} concurrent downloads beside one TLS stream`);
    await runDownload(rig, tenMibId, opensslDir, results, DOWNLOAD, log);
  }

  if (!fanoutOnly && !downloadOnly && !transferOnly) {
    log(`[${elapsed()}] album: ${ALBUM.images} JPEGs of 3 MiB in one sis post, beside openssl cms per file and rsync over ssh (${ALBUM.reps} repetition${ALBUM.reps === 1 ? "" : "s"})`);
    await runAlbum(rig, opensslDir, results, ALBUM, log);
  }

  if (!section) {
    log(`[${elapsed()}] start-up: sis --version beside bun -e 0`);
    runStartup(results, STARTUP_REPS, root);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

const seconds = Math.round((clockMs() - started) / 100) / 10;
const table = renderTable(results);
process.stdout.write(`\n${table}\n\nrun took ${seconds} s${quick ? " (quick)" : ""}; written to ${OUT}\n`);
writeJson(OUT, results, machine, {
  date: new Date().toISOString(),
  // dist/sis is built from the work tree: "-dirty" means uncommitted changes were measured too.
  source,
  seconds,
  quick,
  plan: albumOnly ? { album: ALBUM } : fanoutOnly ? { fanout: FANOUT } : transferOnly ? { transfer: PLAN } : { transfer: PLAN, fanout: FANOUT, download: DOWNLOAD, album: ALBUM, startupReps: STARTUP_REPS },
});

/** post → watch for each size beside openssl cms, and the two ratios; the id of a 10 MiB image it posted. */
async function transfer(rig: SisRig, opensslDir: string): Promise<string> {
  log(`[${elapsed()}] registered alice and bob; post → watch (1, 10, 100 MiB) beside openssl cms`);
  const tenMibId = await runTransfer(rig, opensslDir, results, log);
  results.ratio("ratio_10mib", "post_get_10mib_s", "openssl_cms_10mib_s");
  results.ratio("ratio_100mib", "post_get_100mib_s", "openssl_cms_100mib_s");
  return tenMibId;
}

/** The download section's image when it runs alone: a 10 MiB PNG posted by alice, its id. */
async function postTenMib(rig: SisRig, dir: string): Promise<string> {
  const image = join(dir, "download.png");
  await writeBigPng(image, 10 * MiB);
  const server = await rig.server();
  try {
    const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", image], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(post.stdout).text(), new Response(post.stderr).text(), post.exited]);
    const id = /id ([0-9a-f]{32})/.exec(out)?.[1];
    if (code !== 0 || !id) throw new Error(`sis post of the download image failed (${code}): ${err}`);
    return id;
  } finally {
    await server.stop();
  }
}
