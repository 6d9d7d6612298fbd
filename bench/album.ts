/**
 * The album: N JPEGs of 3 MiB in one `sis post DIR` until a running `sis watch` (bob) has all N
 * verified on disk, beside the openssl cms four-command round per file and rsync over ssh; the
 * RSS of post, watch and serve across the album, first half against second half.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { SIS } from "../test/support/cli.ts";
import { checkDecodes, writeAlbum } from "./album-images.ts";
import { clockMs, MiB, resetPeak, toMiB } from "./measure.ts";
import { opensslCmsRound } from "./openssl-peer.ts";
import type { Results } from "./results.ts";
import { RssTimeline } from "./rss-timeline.ts";
import { startRsyncPeer } from "./rsync-peer.ts";
import type { SisRig } from "./sis-rig.ts";

export interface AlbumPlan {
  images: number;
  imageBytes: number;
  reps: number;
}

/** 200 images in 2 repetitions; quick: 20 in 1. SIS_BENCH_ALBUM_IMAGES and SIS_BENCH_ALBUM_REPS override (before/after runs). */
export function albumPlan(quick: boolean): AlbumPlan {
  const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  return { images: env("SIS_BENCH_ALBUM_IMAGES", quick ? 20 : 200), imageBytes: 3 * MiB, reps: env("SIS_BENCH_ALBUM_REPS", quick ? 1 : 2) };
}

interface SisAlbumRound {
  seconds: number;
  /** When `sis post` exited (POSTED for the last image), seconds from its spawn: the rest is the watch catching up. */
  postSeconds: number;
  rss: Record<"post" | "watch" | "serve", { first: number; second: number }>;
  /** Highest VmRSS per quarter of the album (MiB), for the log. */
  quarters: Record<"post" | "watch" | "serve", number[]>;
}

function imageBytesOf(dir: string, name: string): number {
  return statSync(join(dir, name)).size;
}

/** The watch's line for an image verified, linked and fsynced: "… saved alice/NAME …". */
const SAVED = /(?:^|\s)saved alice\/(\S+) /;

function countDelivered(dir: string, names: Set<string>): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) if (names.has(f)) n++;
  return n;
}

/** One `sis post DIR`: from its spawn to the last of the N images in the watcher's folder. */
async function sisAlbum(rig: SisRig, albumDir: string, names: string[], outDir: string): Promise<SisAlbumRound> {
  // The default --post-rate (120 a minute per user) would refuse the album's 121st image: what is
  // measured is the transfer, so the rate limits are off (a finding of this bench, bench/README.md).
  const server = await rig.server(["--post-rate", "0", "--post-bytes-rate", "0"]);
  const watch = await rig.watcher(outDir);
  try {
    resetPeak(server.proc.pid);
    resetPeak(watch.proc.pid);
    const serveRss = new RssTimeline(server.proc.pid);
    const watchRss = new RssTimeline(watch.proc.pid);
    const t0 = clockMs();
    const proc = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", albumDir], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" },
    });
    const postRss = new RssTimeline(proc.pid);
    let postExitAt = Infinity;
    void proc.exited.then(() => (postExitAt = clockMs()));
    const half = Math.ceil(names.length / 2);
    let postedHalfAt = Infinity;
    const stdout = (async () => {
      let text = "";
      for await (const chunk of proc.stdout) {
        text += new TextDecoder().decode(chunk);
        if (postedHalfAt === Infinity && (text.match(/^posted alice\//gm)?.length ?? 0) >= half) postedHalfAt = clockMs();
      }
      return text;
    })();
    const stderr = new Response(proc.stderr).text();
    // Verified on disk: the watch prints "saved" once both files are linked and its folder
    // fsynced (save-group.ts), so the album ends at its last "saved" line, read every 20 ms. A
    // scan of the folder every 5 ms (until 2026-12-02) saw a file once linked, before its
    // fsync, and the bench itself took 0.44-0.54 s of CPU an album that way (0.17 s now) on
    // the two cores sis runs on.
    const wanted = new Set(names);
    const target = join(outDir, "alice");
    const saved = new Set<string>();
    let seen = 0;
    let deliveredHalfAt = Infinity;
    const deadline = t0 + 1_800_000;
    for (;;) {
      for (; seen < watch.lines.length; seen++) {
        const name = SAVED.exec(watch.lines[seen]!)?.[1];
        if (name && wanted.has(name)) saved.add(name);
      }
      if (saved.size >= half && deliveredHalfAt === Infinity) deliveredHalfAt = clockMs();
      if (saved.size === names.length) break;
      if (clockMs() > deadline) throw new Error(`the album never arrived: ${saved.size} of ${names.length} saved in ${target}`);
      if (proc.exitCode !== null && proc.exitCode !== 0) throw new Error(`sis post ${albumDir} failed (${proc.exitCode}): ${await stderr}`);
      await Bun.sleep(20);
    }
    const seconds = (clockMs() - t0) / 1000;
    const code = await proc.exited;
    postRss.stop();
    const posted = (await stdout).match(/^posted alice\/\S+ id [0-9a-f]{32} \(3\.0 MiB, image\/jpeg\)$/gm)?.length ?? 0;
    if (code !== 0 || posted !== names.length) throw new Error(`sis post ${albumDir}: exit ${code}, ${posted} of ${names.length} posted as 3 MiB JPEGs: ${await stderr}`);
    // What sis delivered is what openssl reads: the stripper kept every byte.
    for (const name of names) if (statSync(join(target, name)).size !== imageBytesOf(albumDir, name)) throw new Error(`${name} arrived with another size`);
    serveRss.stop();
    watchRss.stop();
    const quarters = { post: postRss.profile(), watch: watchRss.profile(), serve: serveRss.profile() };
    return { seconds, postSeconds: (postExitAt - t0) / 1000, quarters, rss: { post: postRss.halves(postedHalfAt), watch: watchRss.halves(deliveredHalfAt), serve: serveRss.halves(deliveredHalfAt) } };
  } finally {
    await watch.stop();
    await server.stop();
  }
}

/** The same files, one at a time, through the four openssl cms commands of the transfer figures. */
async function opensslAlbum(opensslDir: string, albumDir: string, names: string[], size: number): Promise<number> {
  let seconds = 0;
  const out = join(opensslDir, "album-verified.jpg");
  for (const name of names) {
    seconds += await opensslCmsRound(opensslDir, join(albumDir, name), out);
    if (Bun.file(out).size !== size) throw new Error(`openssl cms round did not give back ${name}`);
    rmSync(out, { force: true });
  }
  return seconds;
}

export async function runAlbum(rig: SisRig, opensslDir: string, results: Results, plan: AlbumPlan, log: (line: string) => void): Promise<void> {
  const { images, imageBytes } = plan;
  const peer = await startRsyncPeer(join(rig.root, "rsync-peer"));
  if ("unavailable" in peer) log(`  rsync over ssh: not measured: ${peer.unavailable}`);
  try {
    for (let rep = 0; rep < plan.reps; rep++) {
      const albumDir = join(rig.root, `album-${rep}`);
      const t = clockMs();
      const names = writeAlbum(albumDir, images, imageBytes, `a${rep}`);
      checkDecodes(join(albumDir, names[0]!));
      log(`  album #${rep}: ${images} JPEGs of ${imageBytes / MiB} MiB written in ${((clockMs() - t) / 1000).toFixed(1)} s`);
      const outDir = join(rig.root, `album-out-${rep}`);
      const sis = await sisAlbum(rig, albumDir, names, outDir);
      rmSync(outDir, { recursive: true, force: true });
      results.add("album_post_get_s", sis.seconds, "s", `spawn of one sis post DIR (${images} JPEGs of 3 MiB) → all ${images} verified in a running sis watch's folder`);
      results.add("album_per_image_ms", (sis.seconds * 1000) / images, "ms", "album_post_get_s / images");
      for (const who of ["post", "watch", "serve"] as const) {
        results.add(`rss_album_${who}_first_half_mib`, toMiB(sis.rss[who].first), "MiB", `sis ${who}: peak RSS (VmHWM) over the album's first half`);
        results.add(`rss_album_${who}_second_half_mib`, toMiB(sis.rss[who].second), "MiB", `sis ${who}: peak RSS over the second half (VmHWM if it grew, else the highest VmRSS sampled every 20 ms)`);
      }
      const openssl = await opensslAlbum(opensslDir, albumDir, names, imageBytes);
      results.add("openssl_cms_album_s", openssl, "s", "the four openssl cms commands of openssl_cms_* per file, file after file");
      results.add("album_post_exit_s", sis.postSeconds, "s", "spawn of the album's sis post → its exit (POSTED for the last image); album_post_get_s minus this is the watch catching up");
      let line = `  album #${rep}: sis ${sis.seconds.toFixed(2)} s (${((sis.seconds * 1000) / images).toFixed(1)} ms an image; sis post exited after ${sis.postSeconds.toFixed(2)} s); openssl ${openssl.toFixed(2)} s`;
      if (!("unavailable" in peer)) {
        const dest = join(rig.root, `album-rsync-${rep}`);
        const rsync = await peer.copy(albumDir, dest);
        if (countDelivered(dest, new Set(names)) !== images) throw new Error("rsync did not copy the whole album");
        rmSync(dest, { recursive: true, force: true });
        results.add("rsync_ssh_album_s", rsync, "s", "rsync -a --fsync over ssh (ed25519, a private sshd on 127.0.0.1): reference, no goal");
        line += `; rsync over ssh ${rsync.toFixed(2)} s`;
      }
      const rss = (["post", "watch", "serve"] as const).map((w) => `${w} ${toMiB(sis.rss[w].first)} → ${toMiB(sis.rss[w].second)} MiB`).join(", ");
      log(`${line}; RSS first → second half: ${rss}`);
      log(`  album #${rep}: VmRSS peak per quarter (MiB): ${(["post", "watch", "serve"] as const).map((w) => `${w} ${sis.quarters[w].join(" / ")}`).join(", ")}`);
      rmSync(albumDir, { recursive: true, force: true });
    }
  } finally {
    if (!("unavailable" in peer)) await peer.stop();
  }
  results.ratio("album_ratio", "album_post_get_s", "openssl_cms_album_s");
}
