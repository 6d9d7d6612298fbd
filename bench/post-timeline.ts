/**
 * The timeline of one `sis post FILE` → running `sis watch` (bench/README.md, "Issue 17 on a
 * second machine"): from the spawn of the post, when the server logged the connection, the start
 * of the upload and the stored image (its debug log, millisecond times), when the post exited and
 * when the file was in the watcher's folder. Medians over N posts after one warm-up.
 *   bun bench/post-timeline.ts [MiB=10] [N=8]        (needs dist/sis: npm run build)
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBigPng } from "../test/support/share.ts";
import { SIS } from "../test/support/cli.ts";
import { MiB, summarize } from "./measure.ts";
import { SisRig } from "./sis-rig.ts";

const mib = Number(process.argv[2] ?? 10);
const posts = Number(process.argv[3] ?? 8);
const STEPS: [string, RegExp][] = [
  ["connection opened", / connection opened /],
  ["upload started", / upload started /],
  ["image stored", / image stored /],
];

const root = mkdtempSync(join(tmpdir(), "sis-post-timeline-"));
try {
  const rig = await SisRig.create(root);
  const image = join(root, "image.png");
  await writeBigPng(image, mib * MiB);
  const server = await rig.server(["--post-rate", "0", "--post-bytes-rate", "0", "--log-level", "debug"]);
  const out = join(root, "out");
  const watch = await rig.watcher(out);
  const rows = new Map<string, number[]>();
  const add = (what: string, ms: number) => rows.set(what, [...(rows.get(what) ?? []), ms]);
  for (let i = 0; i <= posts; i++) {
    const name = `t${i}.png`;
    const logFrom = server.log().length;
    const t0 = Date.now();
    const post = Bun.spawn([SIS, "post", "--home", rig.alice, "--quiet", "--name", name, image], { stdout: "ignore", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
    let exitAt = 0;
    void post.exited.then(() => (exitAt = Date.now()));
    while (!existsSync(join(out, "alice", name))) {
      if (post.exitCode !== null && post.exitCode !== 0) throw new Error(`sis post failed: ${await new Response(post.stderr).text()}`);
      await Bun.sleep(1);
    }
    const visible = Date.now();
    await post.exited;
    await watch.waitFor(new RegExp(`saved alice/${name.replace(/[.]/g, "\\.")} `), 60_000);
    if (i === 0) continue;
    const log = server.log().slice(logFrom).split("\n");
    for (const [what, pattern] of STEPS) {
      const line = log.find((l) => pattern.test(l));
      if (line) add(what, Date.parse(line.split(" ")[0]!) - t0);
    }
    add("post exited", exitAt - t0);
    add("file in the watcher's folder", visible - t0);
    SisRig.removeDelivered(out, name);
  }
  console.log(`${mib} MiB, ${posts} posts: ms from the spawn of sis post, median (min–max)`);
  for (const [what, ms] of [...rows].sort((a, b) => summarize(a[1]).median - summarize(b[1]).median)) {
    const s = summarize(ms);
    console.log(`  ${what.padEnd(30)} ${s.median.toFixed(0).padStart(4)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`);
  }
  await watch.stop();
  await server.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}
