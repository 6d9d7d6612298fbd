/**
 * `npm run bench:cluster` (also the last part of `npm run bench`): one node against three, both
 * on one PostgreSQL and one s3rver behind HAProxy (test/support/cluster.ts), in the same run:
 * a 10 MiB post until every `sis watch` has it verified, the fan-out of one NEW_IMAGE to 2,000
 * watchers spread over the nodes, and what a NEW_IMAGE costs across nodes (poster on node A,
 * watcher on B) beside the same node. Written to bench/results/cluster.json.
 * SIS_BENCH_QUICK=1: fewer watchers and repetitions.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Home } from "../src/client/home.ts";
import { postImage } from "../src/client/post.ts";
import { connectAs } from "../src/client/session.ts";
import { SIS } from "../test/support/cli.ts";
import { type Cluster, startCluster } from "../test/support/cluster.ts";
import { makeImages, registerAt, startWatchers, stopWatchers } from "../test/support/cluster-clients.ts";
import { writeBigPng } from "../test/support/share.ts";
import { spawnChild, type Child, type Line } from "./child-process.ts";
import { describeMachine } from "./machine.ts";
import { clockMs } from "./measure.ts";
import { renderTable, writeJson } from "./report.ts";
import { Results } from "./results.ts";

const quick = process.env.SIS_BENCH_QUICK === "1";
export const CLUSTER_PLAN = {
  transfer: { watchers: 6, reps: quick ? 2 : 3, mib: 10 },
  fanout: { connections: quick ? 300 : 2000, workers: 4, reps: quick ? 3 : 5 },
  crossNode: { reps: quick ? 10 : 30 },
};
const OUT = resolve(import.meta.dir, "results", "cluster.json");
const log = (line: string) => process.stderr.write(line + "\n");

/** `sis post` of `file` as the user of `home`, timed from the spawn until every watcher printed its saved line. */
async function postUntilAllSaved(home: string, file: string, name: string, watchers: Awaited<ReturnType<typeof startWatchers>>): Promise<number> {
  const from = watchers.map((x) => x.w.lines.length);
  const t0 = clockMs();
  const proc = Bun.spawn([SIS, "post", "--home", home, "--quiet", "--name", name, file], { stdout: "pipe", stderr: "pipe" });
  const saved = new RegExp(`^\\S+ saved alice/${name.replace(/[.]/g, "\\.")} `);
  for (;;) {
    if (watchers.every((x, i) => x.w.lines.slice(from[i]).some((l) => saved.test(l)))) break;
    if (proc.exitCode !== null && proc.exitCode !== 0) throw new Error(`sis post ${name} failed: ${await new Response(proc.stderr).text()}`);
    if (clockMs() - t0 > 300_000) throw new Error(`${name} did not reach every watcher in 300 s`);
    await Bun.sleep(2);
  }
  const seconds = (clockMs() - t0) / 1000;
  await proc.exited;
  for (const x of watchers) {
    rmSync(join(x.out, "alice", name), { force: true });
    rmSync(join(x.out, "alice", `${name}.p7s`), { force: true });
  }
  return seconds;
}

async function transfer(c: Cluster, key: string, alice: string, bob: string, results: Results): Promise<void> {
  const p = CLUSTER_PLAN.transfer;
  const watchers = await startWatchers(c, Array(p.watchers).fill(bob), `${key}-watch`);
  try {
    const [image] = await makeImages(c, `${key}-big`, 1, p.mib * 1024 * 1024);
    for (let rep = -1; rep < p.reps; rep++) {
      const s = await postUntilAllSaved(alice, image!.path, `${key}-big-${rep + 1}.png`, watchers);
      log(`  ${key}: ${p.mib} MiB post → ${p.watchers} watchers verified in ${s.toFixed(2)} s${rep < 0 ? " (warm-up)" : ""}`);
      if (rep >= 0) results.add(`${key}_post_watch_10mib_s`, s, "s", `sis post of 10 MiB until ${p.watchers} sis watch (through HAProxy) have it saved and verified`);
    }
  } finally {
    await stopWatchers(watchers);
  }
}

async function allLines(children: Child[], match: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line[]> {
  return Promise.all(children.map((ch) => ch.next(match, timeoutMs, what)));
}

/** bench/fanout-worker.ts processes holding `connections` watchers of bob through HAProxy; one NEW_IMAGE timed from POSTED to the last of them. */
async function fanout(c: Cluster, key: string, alice: string, bob: string, results: Results): Promise<void> {
  const p = CLUSTER_PLAN.fanout;
  const workers = Array.from({ length: p.workers }, () => spawnChild("fanout-worker.ts", [bob, String(Math.ceil(p.connections / p.workers))]));
  try {
    const t0 = clockMs();
    const ready = await allLines(workers, (l) => "ready" in l, 600_000, "its connections");
    const failed = ready.reduce((a, l) => a + Number(l.failed), 0);
    if (failed > 0) throw new Error(`${failed} watcher connections failed: ${String(ready.find((l) => Number(l.failed) > 0)?.error)}`);
    const perNode = await Promise.all(c.nodes.map((n) => c.metric(n.index, "sis_authenticated_clients")));
    log(`  ${key}: ${p.connections} watchers connected in ${((clockMs() - t0) / 1000).toFixed(1)} s, per node ${perNode.join(" / ")}`);
    const creds = await new Home(alice).credentials();
    const poster = await connectAs(creds);
    const png = join(c.root, `${key}-fanout.png`);
    await writeBigPng(png, 4096);
    for (let rep = -1; rep < p.reps; rep++) {
      for (const w of workers) w.send({ cmd: "ping" });
      await allLines(workers, (l) => "pinged" in l, 60_000, "PONGs");
      // Timed from the start of the post: on several nodes the other nodes hear the NOTIFY at
      // commit, before the poster's node has answered POSTED, so POSTED is no zero for them.
      const start = clockMs();
      const posted = await postImage(poster, creds, png, { name: `${key}-fanout-${rep + 1}.png`, keepMetadata: true });
      const stored = clockMs();
      const seq = posted.image.seq;
      const lines = await allLines(workers, (l) => l.seq === seq, 60_000, `NEW_IMAGE #${seq}`);
      const last = Math.max(...lines.map((l) => Number(l.last)));
      const n = lines.reduce((a, l) => a + Number(l.n), 0);
      if (n < p.connections) throw new Error(`fan-out reached ${n} of ${p.connections}`);
      log(`  ${key}: fan-out #${rep}${rep < 0 ? " (warm-up)" : ""}: ${(last - start).toFixed(1)} ms to ${n} (POSTED after ${(stored - start).toFixed(1)} ms)`);
      if (rep < 0) continue;
      results.add(`${key}_fanout_2000_ms`, last - start, "ms", `start of a 4 KiB post → NEW_IMAGE on the last of ${p.connections} watchers (through HAProxy)`);
      results.add(`${key}_fanout_post_ms`, stored - start, "ms", "the same 4 KiB post, start → POSTED");
    }
    poster.close();
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** Poster connected to node 1; watchers on node 1 and node 2 (direct, not through HAProxy); each NEW_IMAGE timed from the start of the post. */
async function crossNode(c: Cluster, alice: string, bob: string, results: Results): Promise<void> {
  const aliceCreds = await new Home(alice).credentials();
  const bobCreds = await new Home(bob).credentials();
  const at = <T extends { host: string; port: number }>(creds: T, i: number): T => ({ ...creds, host: "127.0.0.1", port: c.nodes[i]!.port });
  const poster = await connectAs(at(aliceCreds, 0));
  const same = await connectAs(at(bobCreds, 0));
  const other = await connectAs(at(bobCreds, 1));
  const arrived = new Map<string, number>();
  same.onPush((im) => arrived.set(`same ${im.seq}`, clockMs()));
  other.onPush((im) => arrived.set(`other ${im.seq}`, clockMs()));
  const png = join(c.root, "cross.png");
  await writeBigPng(png, 2048);
  try {
    for (let rep = -1; rep < CLUSTER_PLAN.crossNode.reps; rep++) {
      const t0 = clockMs();
      const posted = await postImage(poster, aliceCreds, png, { name: `cross-${rep + 1}.png`, keepMetadata: true });
      const tPosted = clockMs();
      const seq = posted.image.seq;
      const deadline = clockMs() + 30_000;
      while (!(arrived.has(`same ${seq}`) && arrived.has(`other ${seq}`))) {
        if (clockMs() > deadline) throw new Error(`NEW_IMAGE #${seq} did not reach both watchers`);
        await Bun.sleep(0);
      }
      if (rep < 0) continue;
      const a = arrived.get(`same ${seq}`)!;
      const b = arrived.get(`other ${seq}`)!;
      results.add("cluster3_new_image_same_node_ms", a - t0, "ms", "start of a 2 KiB post on node A → NEW_IMAGE at a watcher on node A");
      results.add("cluster3_new_image_cross_node_ms", b - t0, "ms", "the same post → NEW_IMAGE at a watcher on node B (NOTIFY → LISTEN → read → send)");
      results.add("cluster3_new_image_extra_ms", b - a, "ms", "NEW_IMAGE at the watcher on node B minus at the one on node A, same post");
      results.add("cluster3_post_small_ms", tPosted - t0, "ms", "a 2 KiB post on node A, start to POSTED");
    }
    log(`  cross-node: ${CLUSTER_PLAN.crossNode.reps} posts; median extra ${results.get("cluster3_new_image_extra_ms")!.median.toFixed(2)} ms`);
  } finally {
    for (const conn of [poster, same, other]) conn.close();
  }
}

/** The whole comparison, into `results`: one node, then three, on fresh services each. */
export async function runCluster(results: Results): Promise<void> {
  for (const nodes of [1, 3]) {
    const key = `cluster${nodes}`;
    log(`[cluster] ${nodes} node${nodes === 1 ? "" : "s"} on PostgreSQL + s3rver behind HAProxy`);
    const c = await startCluster({ nodes, serveArgs: ["--max-connections-per-address", "20000"] });
    try {
      const alice = await registerAt(c, "alice");
      const bob = await registerAt(c, "bob");
      await transfer(c, key, alice, bob, results);
      await fanout(c, key, alice, bob, results);
      if (nodes === 3) await crossNode(c, alice, bob, results);
    } finally {
      await c[Symbol.asyncDispose]();
    }
  }
  results.ratio("cluster_post_watch_ratio", "cluster3_post_watch_10mib_s", "cluster1_post_watch_10mib_s");
  results.ratio("cluster_fanout_ratio", "cluster3_fanout_2000_ms", "cluster1_fanout_2000_ms");
}

if (import.meta.main) {
  const machine = describeMachine();
  log(`sis cluster bench on ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage1m}`);
  const started = clockMs();
  const results = new Results();
  await runCluster(results);
  const seconds = Math.round((clockMs() - started) / 100) / 10;
  process.stdout.write(`\n${renderTable(results)}\n\ncluster run took ${seconds} s${quick ? " (quick)" : ""}; written to ${OUT}\n`);
  writeJson(OUT, results, machine, { date: new Date().toISOString(), seconds, quick, plan: CLUSTER_PLAN });
}
