/**
 * Protocol version 2's posting against version 1, in one run (bench/README.md, "Pipelined posting
 * (protocol v2)"): an album of JPEGs via `sis post DIR` until a running `sis watch` has saved
 * them all, and one 10 MiB image via `sis post FILE` until it is saved. Three clients, rounds
 * interleaved so the machine's noise falls on all alike:
 *   v1-build  the build of 457748b (protocol 1 only), its own server;
 *   v1        this build with SIS_PROTOCOL_MAX=1 (protocol 1 on this code: the per-connection key
 *             import and the download-cache seeding, nothing of version 2);
 *   v2        this build with SIS_PROTOCOL_MAX=2 for poster and watcher (version 2: no cut-through);
 *   v3        this build (version 3: the watcher gets each image while it is posted, P40–P49).
 * SIS_BENCH_ONLY=v2,v3: only those modes (the cut-through's before and after).
 * Usage: bun bench/pipelined-posting.ts [ALBUM_COUNT=50] [ROUNDS=3]  (needs dist/sis: npm run build)
 * SIS_BENCH_SINGLES=N: 10 MiB posts per round and client (4); SIS_BENCH_WINDOWS=1,2: version 2 with
 * those client windows too (SIS_POST_WINDOW).
 */
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { register, SIS, startServe, startWatch, tempDir, type ServerProcess, type WatchProcess } from "../test/support/cli.ts";
import { runAs, versionOneBinary } from "../test/support/old-binary.ts";
import { writeBigPng } from "../test/support/share.ts";
import { clockMs } from "./measure.ts";

const COUNT = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 3);
/** 10 MiB posts per round and client: a single post's wall time is noisy on a shared machine, so its minimum is shown too. */
const SINGLES = Number(process.env.SIS_BENCH_SINGLES ?? 4);
const MiB = 1024 * 1024;

/** A JPEG of about 3 MiB (noise compresses badly) with an EXIF segment holding a GPS-like blob, which post strips. */
function albumJpeg(seed: number): Uint8Array {
  const width = 1400;
  const height = 1100;
  const data = Buffer.alloc(width * height * 4);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    data[i] = x & 0xff;
  }
  const plain = jpeg.encode({ data, width, height }, 90).data;
  const exifBody = Buffer.concat([Buffer.from("Exif\0\0MM\0*\0\0\0\x08\0\0", "latin1"), Buffer.alloc(4000, seed & 0xff)]);
  const app1 = Buffer.alloc(4 + exifBody.length);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(exifBody.length + 2, 2);
  exifBody.copy(app1, 4);
  return new Uint8Array(Buffer.concat([plain.subarray(0, 2), app1, plain.subarray(2)]));
}

interface Mode {
  name: string;
  prefix: string[];
  env: Record<string, string>;
  /** The watcher's environment (the poster's is `env`). */
  watchEnv?: Record<string, string>;
  server?: ServerProcess;
  watch?: WatchProcess;
  root: string;
  out: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function setUp(mode: Mode): Promise<void> {
  // No post rate or quota: a run posts hundreds of images a minute (M25, M26).
  mode.server = await startServe(join(mode.root, "data"), ["--post-rate", "0", "--post-bytes-rate", "0", "--quota", "0"], { prefix: mode.prefix });
  for (const user of ["alice", "bob"]) {
    const r = await register(mode.server, user, join(mode.root, user));
    if (r.code !== 0) throw new Error(`register ${user} (${mode.name}): ${r.stderr}`);
  }
  mode.watch = startWatch(join(mode.root, "bob"), mode.out, { prefix: mode.prefix, env: { ...mode.watchEnv, ...(process.env.SIS_BENCH_DEBUG ? { SIS_DEBUG: "1" } : {}) } });
  await mode.watch.waitFor(/ connected to /, 30_000);
  await Bun.sleep(1000); // its WATCH_INCOMING (version 3) follows the connection's GET_CRL
}

/** CPU seconds (user + system) a running process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

interface Timing {
  /** Until `sis post` exits: every image acknowledged (POSTED). */
  posted: number;
  /** Until the watcher has saved every image. */
  saved: number;
  /** CPU seconds of the posting client, and of the server meanwhile (which also serves the watcher). */
  clientCpu: number;
  serverCpu: number;
  /** CPU seconds of the watcher meanwhile (download, decrypt, verify, save). */
  watcherCpu: number;
}

/** One `sis post ARGS`, timed as Timing says. */
async function timed(mode: Mode, args: string[], names: string[]): Promise<Timing> {
  const dir = join(mode.out, "alice");
  const serverPid = mode.server!.proc.pid;
  const watcherPid = mode.watch!.proc.pid;
  const server0 = cpuSeconds(serverPid);
  const watcher0 = cpuSeconds(watcherPid);
  const t0 = clockMs();
  let postedAt = 0;
  const proc = Bun.spawn([...mode.prefix, SIS, "post", "--quiet", "--home", join(mode.root, "alice"), ...args], {
    stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...mode.env },
  });
  const post = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([, stderr, code]) => {
    postedAt = clockMs();
    const usage = proc.resourceUsage();
    return { code, stderr, cpu: usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : NaN };
  });
  const want = new Set(names);
  let failed: string | null = null;
  void post.then((r) => {
    if (r.code !== 0) failed = r.stderr;
  });
  for (;;) {
    if (failed !== null) throw new Error(`${mode.name}: sis post failed: ${failed}`);
    const have = existsSync(dir) ? readdirSync(dir).filter((n) => want.has(n)).length : 0;
    if (have === want.size) break;
    if (clockMs() - t0 > 600_000) throw new Error(`${mode.name}: only ${have} of ${want.size} arrived`);
    await Bun.sleep(5);
  }
  const saved = (clockMs() - t0) / 1000;
  const serverCpu = cpuSeconds(serverPid) - server0;
  const watcherCpu = cpuSeconds(watcherPid) - watcher0;
  const r = await post;
  if (r.code !== 0) throw new Error(`${mode.name}: sis post failed: ${r.stderr}`);
  return { posted: (postedAt - t0) / 1000, saved, clientCpu: r.cpu, serverCpu, watcherCpu };
}

using root = tempDir("sis-bench-pipelined-");
const only = (process.env.SIS_BENCH_ONLY ?? "").split(",").filter(Boolean);
const oldBinary = only.length === 0 || only.includes("v1-build") ? await versionOneBinary() : "";
const allModes: Mode[] = [
  { name: "v1-build", prefix: oldBinary ? runAs(oldBinary) : [], env: {}, root: join(root, "v1-build"), out: join(root, "v1-build", "out") },
  { name: "v1", prefix: [], env: { SIS_PROTOCOL_MAX: "1" }, root: join(root, "v1"), out: join(root, "v1", "out") },
  { name: "v2", prefix: [], env: { SIS_PROTOCOL_MAX: "2" }, watchEnv: { SIS_PROTOCOL_MAX: "2" }, root: join(root, "v2"), out: join(root, "v2", "out") },
  { name: "v3", prefix: [], env: {}, root: join(root, "v3"), out: join(root, "v3", "out") },
  // SIS_BENCH_WINDOWS=1,2,4: version 2 with other client windows as well (SIS_POST_WINDOW).
  ...(process.env.SIS_BENCH_WINDOWS ?? "").split(",").filter(Boolean).map((w) => ({
    name: `v2-w${w}`, prefix: [], env: { SIS_POST_WINDOW: w }, root: join(root, `v2-w${w}`), out: join(root, `v2-w${w}`, "out"),
  })),
];
const modes = only.length > 0 ? allModes.filter((m) => only.includes(m.name)) : allModes;
for (const m of modes) mkdirSync(m.root, { recursive: true });

// The album: COUNT distinct JPEGs, hard-linked under new names for each round and mode.
const source = join(root, "album-source");
mkdirSync(source);
let albumBytes = 0;
for (let i = 0; i < COUNT; i++) {
  const bytes = albumJpeg(i + 1);
  albumBytes += bytes.length;
  writeFileSync(join(source, `IMG_${String(i).padStart(4, "0")}.jpg`), bytes);
}
const big = join(root, "big.png");
await writeBigPng(big, 10 * MiB);
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`load average at the start: ${load()}`);
console.log(`album: ${COUNT} JPEGs, ${(albumBytes / COUNT / MiB).toFixed(2)} MiB each on average; single: 10 MiB PNG; ${ROUNDS} rounds`);

const album: Record<string, Timing[]> = {};
const single: Record<string, Timing[]> = {};
try {
  for (const m of modes) await setUp(m);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const m of modes) {
      const dir = join(m.root, `album-${round}`);
      mkdirSync(dir);
      const names = readdirSync(source).map((n) => {
        const name = `r${round}-${n}`;
        linkSync(join(source, n), join(dir, name));
        return name;
      });
      const t = await timed(m, [dir], names);
      (album[m.name] ??= []).push(t);
      console.log(`round ${round} ${m.name}: album ${line(t, COUNT)}`);
    }
    for (const m of modes) {
      for (let k = 0; k < SINGLES; k++) {
        const name = `big-${round}-${k}.png`;
        const t = await timed(m, ["--name", name, big], [name]);
        (single[m.name] ??= []).push(t);
        console.log(`round ${round} ${m.name}: 10 MiB ${line(t, 1)}`);
      }
    }
  }
  if (process.env.SIS_BENCH_DEBUG) for (const m of modes) console.log(m.watch!.lines.filter((l) => / debug: /.test(l) && !/came by cut-through/.test(l)).join("\n"));
  // How the watcher got the images: by cut-through (DELIVERED) or by download.
  for (const m of modes) {
    const text = await fetch(`http://127.0.0.1:${m.server!.httpPort}/metrics`).then((r) => r.text()).catch(() => "");
    const count = (name: string) => /^(\S+) (\d+)$/m.test(text) ? (new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? "-") : "-";
    console.log(`${m.name}: cut-through deliveries ${count("sis_cut_through_delivered_total")}, dropped ${count("sis_cut_through_dropped_total")}, downloads ${count("sis_downloads_total")}`);
  }
} finally {
  for (const m of modes) {
    await m.watch?.stop();
    await m.server?.stop();
  }
}
/** A timing as ms an image: wall until POSTED, wall until saved, client CPU, server CPU. */
function line(t: Timing, n: number): string {
  const ms = (s: number) => (s * 1000 / n).toFixed(1);
  return `posted ${ms(t.posted)} ms, saved ${ms(t.saved)} ms, CPU: client ${ms(t.clientCpu)}, server ${ms(t.serverCpu)}, watcher ${ms(t.watcherCpu)} ms (an image)`;
}

/** The median of each figure on its own. */
function medians(ts: Timing[]): Timing {
  const pick = (k: keyof Timing) => median(ts.map((t) => t[k]));
  return { posted: pick("posted"), saved: pick("saved"), clientCpu: pick("clientCpu"), serverCpu: pick("serverCpu"), watcherCpu: pick("watcherCpu") };
}

const least = (ts: Timing[], k: keyof Timing) => Math.min(...ts.map((t) => t[k]));

console.log(`load average at the end: ${load()}`);
console.log(`\nmedians (${ROUNDS} rounds of ${COUNT} images; 10 MiB: ${ROUNDS * SINGLES} posts):`);
for (const m of modes) {
  console.log(`${m.name.padEnd(9)} album   ${line(medians(album[m.name] ?? []), COUNT)}`);
  const s = single[m.name] ?? [];
  console.log(`${"".padEnd(9)} 10 MiB  ${line(medians(s), 1)}; fastest: posted ${(least(s, "posted") * 1000).toFixed(1)} ms, saved ${(least(s, "saved") * 1000).toFixed(1)} ms`);
}
