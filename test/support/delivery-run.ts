/**
 * The delivery run: real `sis watch` processes, some killed with SIGKILL and
 * restarted at seeded moments, one server kill and restart on the same port,
 * while images are posted; then every watcher's OUT must hold every image
 * exactly once, intact, with its signature, and nothing partial.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { readdir } from "node:fs/promises";
import { register, sis, startServe, startWatch, type ServerProcess, type WatchProcess } from "./cli.ts";
import { serverErrors } from "./crash-round.ts";
import { checkOutDir, mapLimit, savedCounts } from "./durability-checks.ts";
import type { Seeded } from "./seeded.ts";
import { logSizes, writeTestImage } from "./test-images.ts";

export interface DeliveryOptions {
  rng: Seeded;
  posts: number;
  watchers: number;
  /** Files per `sis post` process. */
  batch: number;
  watcherKills: number;
  minSize: number;
  maxSize: number;
  /** Every `largeEvery`-th image is `largeSize` bytes, so some kills land mid-download. */
  largeEvery: number;
  largeSize: number;
  workDir: string;
  /** How long the watchers may take, after the last post, to have everything. */
  finishDeadlineMs: number;
  /** Images per watcher checked again by `openssl cms -verify`. */
  opensslSample: number;
  log?: (line: string) => void;
}

export interface DeliveryReport {
  seed: number;
  posts: number;
  watchers: number;
  serverRestarts: number;
  watcherKills: number;
  watcherStarts: number;
  /** Image files found intact under the watchers' OUT directories. */
  deliveries: number;
  savedLines: number;
  alreadySavedLines: number;
  duplicates: number;
  missing: number;
  opensslVerified: number;
  /** Times a batch's `sis post` waited out the server's post rate (PROTOCOL.md M26) and went on. */
  rateWaits: number;
  wallMs: number;
  problems: string[];
}

interface Watcher {
  user: string;
  home: string;
  out: string;
  runs: WatchProcess[];
  current: WatchProcess | null;
}

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
const POSTED = /^posted (\S+)\/(\S+) id ([0-9a-f]{32}) \(/;
/**
 * The one line `sis post` prints on stderr while it waits out the server's default rate (M26,
 * src/client/rate-wait.ts): a long run posts faster than 120 a minute on a fast machine. It then
 * goes on and exits 0; anything else on stderr is a problem.
 */
const RATE_WAIT = /^sis: the server takes at most \d+ posts a minute per user; waiting \d+ s, then (going on with \d+ more|trying again)$/;

export async function runDelivery(opts: DeliveryOptions): Promise<DeliveryReport> {
  const started = Date.now();
  const { rng } = opts;
  const problems: string[] = [];
  let rateWaits = 0;
  const dataDir = join(opts.workDir, "data");
  const srcDir = join(opts.workDir, "src");
  await mkdir(srcDir, { recursive: true });
  let server = await startServe(dataDir);
  const servers: ServerProcess[] = [server];
  const poster = { user: "poster", home: join(opts.workDir, "poster") };
  const watchers: Watcher[] = Array.from({ length: opts.watchers }, (_, i) => ({
    user: `watcher${i}`, home: join(opts.workDir, `watcher${i}`), out: join(opts.workDir, `out${i}`), runs: [], current: null,
  }));
  let watcherKills = 0;
  const expected = new Map<string, string>();
  try {
    const regs = await mapLimit([poster, ...watchers], 2, (a) => register(server, a.user, a.home));
    for (const [i, r] of regs.entries()) {
      if (r.code !== 0 || r.stderr !== "") throw new Error(`register ${i} failed: exit ${r.code} ${r.stderr}`);
    }
    const start = (w: Watcher) => {
      w.current = startWatch(w.home, w.out);
      w.runs.push(w.current);
    };
    for (const w of watchers) start(w);
    for (const w of watchers) await w.current!.waitFor(/ connected to /, 60_000);

    // The plan, drawn from the seed before anything runs: which batch ends with which faults.
    const batches = Math.ceil(opts.posts / opts.batch);
    const serverRestartAt = rng.int(Math.floor(batches / 3), Math.max(Math.floor(batches / 3), Math.floor((2 * batches) / 3)));
    const kills = Array.from({ length: opts.watcherKills }, () => ({
      at: rng.int(0, batches - 1), watcher: rng.int(0, opts.watchers - 1), restartAfter: rng.int(0, 2), delayMs: rng.int(0, 150),
    }));
    const restarts = new Map<number, Watcher[]>();
    const sizes = logSizes(opts.posts, opts.minSize, opts.maxSize, rng).map((s, i) => ((i + 1) % opts.largeEvery === 0 ? opts.largeSize : s));
    // Shuffled, so large and small images interleave in every batch.
    for (let i = sizes.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
    }

    for (let b = 0; b < batches; b++) {
      const files = [];
      for (let i = b * opts.batch; i < Math.min(opts.posts, (b + 1) * opts.batch); i++) {
        files.push(await writeTestImage(srcDir, `img-${i}.png`, sizes[i]!, rng));
      }
      const r = await sis(["post", "--home", poster.home, "--quiet", "--keep-metadata", ...files.map((f) => f.path)], { timeoutMs: 300_000 });
      const lines = r.stdout.trim().split("\n");
      const notices = r.stderr.split("\n").filter((l) => l !== "");
      rateWaits += notices.filter((l) => RATE_WAIT.test(l)).length;
      if (r.code !== 0 || notices.some((l) => !RATE_WAIT.test(l)) || lines.length !== files.length) {
        problems.push(`post of batch ${b} failed: exit ${r.code} stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
      }
      for (const [i, f] of files.entries()) {
        const m = POSTED.exec(lines[i] ?? "");
        if (m && m[1] === poster.user && m[2] === f.name) expected.set(`${poster.user}/${f.name}`, f.sha256);
        else problems.push(`post of ${f.name} printed ${JSON.stringify(lines[i])}`);
      }

      for (const w of restarts.get(b) ?? []) if (!w.current) start(w);
      for (const kill of kills.filter((k) => k.at === b)) {
        const w = watchers[kill.watcher]!;
        if (!w.current) continue;
        // The seeded moment: the watchers are busy with this batch now.
        if (kill.delayMs > 0) await Bun.sleep(kill.delayMs);
        await w.current.stop("SIGKILL");
        if (w.current.proc.signalCode !== "SIGKILL") problems.push(`${w.user} had exited (${w.current.proc.exitCode}) before its kill`);
        w.current = null;
        watcherKills++;
        if (kill.restartAfter === 0) start(w);
        else restarts.set(b + kill.restartAfter, [...(restarts.get(b + kill.restartAfter) ?? []), w]);
      }
      if (b === serverRestartAt) {
        await server.stop("SIGKILL");
        if (server.proc.signalCode !== "SIGKILL") problems.push(`the server had exited (${server.proc.exitCode}) before its kill`);
        server = await startServe(dataDir, ["--port", String(server.port)]);
        servers.push(server);
        opts.log?.(`server killed and restarted after batch ${b + 1} of ${batches}`);
      }
    }
    for (const w of watchers) if (!w.current) start(w);
    // A watch stopped before it is up dies of the signal's default action, which is not the clean stop the end checks
    // judge: every last run must be connected (its handlers installed) before the wait below may end at once.
    for (const w of watchers) await w.current!.waitFor(/ connected to /, 60_000);
    opts.log?.(`${expected.size} images posted in ${batches} batches; ${watcherKills} watcher kills; waiting for every watcher to have every image`);

    // Done means: every expected image and its .p7s under every OUT (then the contents are judged).
    const deadline = Date.now() + opts.finishDeadlineMs;
    for (const w of watchers) {
      for (;;) {
        const have = new Set(await readdir(join(w.out, poster.user)).catch(() => [] as string[]));
        const lacking = [...expected.keys()].filter((k) => {
          const name = k.slice(poster.user.length + 1);
          return !have.has(name) || !have.has(`${name}.p7s`);
        });
        if (lacking.length === 0) break;
        if (w.current!.proc.exitCode !== null) {
          problems.push(`${w.user} exited (${w.current!.proc.exitCode}) while ${lacking.length} images were missing:\n${w.current!.lines.join("\n")}`);
          break;
        }
        if (Date.now() > deadline) {
          problems.push(`${w.user} still lacks ${lacking.length} images (${lacking.slice(0, 3).join(", ")}…) after the deadline`);
          break;
        }
        await Bun.sleep(100);
      }
    }
  } finally {
    for (const w of watchers) await w.current?.stop("SIGTERM");
    await server.stop("SIGTERM");
  }

  let deliveries = 0;
  let savedLines = 0;
  let alreadySavedLines = 0;
  let duplicates = 0;
  let missing = 0;
  let opensslVerified = 0;
  for (const w of watchers) {
    const last = w.runs.at(-1)!;
    if (last.proc.exitCode !== 0) problems.push(`${w.user}'s last watch exited ${last.proc.exitCode ?? last.proc.signalCode} after SIGTERM`);
    const lines = w.runs.flatMap((run) => run.lines);
    for (const line of lines) {
      // The watch log is timestamped stdout; anything else came from stderr.
      if (!TIMESTAMPED.test(line)) problems.push(`${w.user} printed an error: ${line}`);
      else if (/ refused /.test(line)) problems.push(`${w.user} refused an image: ${line}`);
    }
    const counts = savedCounts(lines);
    for (const [key, n] of counts) {
      savedLines += n;
      if (n > 1) {
        duplicates++;
        problems.push(`${w.user} saved ${key} ${n} times`);
      }
    }
    alreadySavedLines += lines.filter((l) => / already saved /.test(l)).length;
    const out = await checkOutDir(w.out, expected);
    problems.push(...out.problems.map((p) => `${w.user}: ${p}`));
    deliveries += out.delivered;
    duplicates += out.extra;
    missing += out.missing;
    const keys = [...expected.keys()];
    for (let i = 0; i < Math.min(opts.opensslSample, keys.length); i++) {
      const file = join(w.out, rng.pick(keys));
      const v = await opensslVerify(file, join(dataDir, "ca.pem"));
      if (v.ok) opensslVerified++;
      else problems.push(`${w.user}: openssl cms -verify refused ${file}: ${v.detail}`);
    }
  }
  for (const [i, s] of servers.entries()) problems.push(...serverErrors(s, `server run ${i + 1}`));
  const lastServer = servers.at(-1)!;
  if (lastServer.proc.exitCode !== 0) problems.push(`the last server exited ${lastServer.proc.exitCode ?? lastServer.proc.signalCode} after SIGTERM`);

  return {
    seed: rng.seed, posts: expected.size, watchers: watchers.length, serverRestarts: servers.length - 1, watcherKills,
    watcherStarts: watchers.reduce((n, w) => n + w.runs.length, 0), deliveries, savedLines, alreadySavedLines, duplicates, missing,
    opensslVerified, rateWaits, wallMs: Date.now() - started, problems,
  };
}

/** The independent judge: OpenSSL checks the detached signature beside a saved image against the CA. */
export async function opensslVerify(file: string, caPem: string): Promise<{ ok: boolean; detail: string }> {
  const proc = Bun.spawn(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", `${file}.p7s`, "-content", file, "-CAfile", caPem, "-purpose", "any", "-out", "/dev/null"], {
    stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const ok = code === 0 && stdout === "" && /Verification successful/.test(stderr);
  return { ok, detail: `exit ${code} stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}` };
}
