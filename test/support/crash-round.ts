/**
 * One crash round: concurrent `sis post` processes, `kill -9` of the server at a
 * seeded moment, a restart on the same port, then every guarantee checked:
 * acknowledged ⇒ listed; listed ⇒ downloads byte-identical and verified;
 * no orphan blob; nothing left in blobs/tmp.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { checkBlobDir, checkDatabase, mapLimit } from "./durability-checks.ts";
import { register, sis, startServe, type ServerProcess } from "./cli.ts";
import type { Seeded } from "./seeded.ts";
import { logSizes, sha256File, writeTestImage, type TestImage } from "./test-images.ts";

export interface Account {
  user: string;
  home: string;
}

export interface CrashRoundOptions {
  server: ServerProcess;
  posters: Account[];
  receiver: Account;
  round: number;
  rng: Seeded;
  uploads: number;
  minSize: number;
  maxSize: number;
  workDir: string;
  /** Images that earlier rounds left listed ("owner/name" → id and SHA-256); they must still be there. */
  kept: Map<string, { id: string; sha256: string }>;
  log?: (line: string) => void;
}

export interface CrashRoundResult {
  /** The restarted server, same port. */
  server: ServerProcess;
  attempted: number;
  acknowledged: number;
  /** Committed on the server though `sis post` never heard POSTED: allowed, and then it must be complete. */
  committedUnacknowledged: number;
  /** Upload files the restarted server removed, by its own log. */
  swept: number;
  killAfterAcks: number;
  killDelayMs: number;
  problems: string[];
}

const POSTED = /^posted (\S+)\/(\S+) id ([0-9a-f]{32}) \(/;

/** Runs one round; on return `kept` holds every image now listed. */
export async function runCrashRound(opts: CrashRoundOptions): Promise<CrashRoundResult> {
  const { rng, round, server } = opts;
  const problems: string[] = [];
  const srcDir = join(opts.workDir, `round-${round}`);
  await mkdir(srcDir, { recursive: true });
  const sizes = logSizes(opts.uploads, opts.minSize, opts.maxSize, rng);
  const images: (TestImage & { poster: Account })[] = [];
  for (const [i, size] of sizes.entries()) {
    const image = await writeTestImage(srcDir, `r${round}-${i}-${size}.png`, size, rng);
    images.push({ ...image, poster: opts.posters[i % opts.posters.length]! });
  }

  // The kill waits for k acknowledgements (or, for k = 0, for an upload to reach
  // the server's tmp/), then a seeded delay: early, middle and late kills all occur.
  const killAfterAcks = rng.int(0, Math.floor(opts.uploads / 3));
  const killDelayMs = rng.int(0, 60);
  let acks = 0;
  let settled = 0;
  const posts = images.map((image) =>
    sis(["post", "--home", image.poster.home, "--quiet", "--keep-metadata", image.path], { timeoutMs: 180_000 }).then((r) => {
      settled++;
      if (r.code === 0) acks++;
      return r;
    }),
  );
  const tmpDir = join(server.dataDir, "blobs", "tmp");
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (settled === images.length) break;
    if (killAfterAcks > 0 ? acks >= killAfterAcks : ((await readdir(tmpDir).catch(() => [])).length > 0)) break;
    if (Date.now() > deadline) throw new Error(`round ${round}: the uploads made no progress in 180 s`);
    await Bun.sleep(5);
  }
  // The random moment itself: a chosen delay, not a wait for an event.
  if (killDelayMs > 0) await Bun.sleep(killDelayMs);
  const inFlight = images.length - settled;
  const acksAtKill = acks;
  await server.stop("SIGKILL");
  if (server.proc.signalCode !== "SIGKILL") problems.push(`round ${round}: the server had already exited (${server.proc.exitCode}) before the kill:\n${server.output()}`);
  problems.push(...serverErrors(server, `round ${round} (killed server)`));
  problems.push(...checkDatabase(server.dataDir).map((p) => `round ${round}, after the kill: ${p}`));
  opts.log?.(`round ${round}: kill -9 ${killDelayMs} ms after ${killAfterAcks > 0 ? `${killAfterAcks} acknowledgements` : "the first upload reached blobs/tmp"} (${acksAtKill} acknowledged by then), ${inFlight} of ${images.length} uploads in flight`);

  const acknowledged = new Map<string, string>();
  const results = await Promise.all(posts);
  for (const [i, r] of results.entries()) {
    const image = images[i]!;
    const key = `${image.poster.user}/${image.name}`;
    const m = POSTED.exec(r.stdout);
    if (r.code === 0) {
      if (!m || m[1] !== image.poster.user || m[2] !== image.name || r.stdout.trim().split("\n").length !== 1 || r.stderr !== "") {
        problems.push(`post ${key} exited 0 without exactly one "posted" line: stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
      } else acknowledged.set(key, m[3]!);
    } else if (r.code !== 1 || r.stdout.includes("posted") || !/^sis: /.test(r.stderr)) {
      problems.push(`post ${key} failed without the manners of a failure (exit 1, "sis: …" on stderr, no "posted"): exit ${r.code} stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
    }
  }

  const restarted = await startServe(server.dataDir, ["--port", String(server.port)]);
  if (restarted.port !== server.port) problems.push(`the restarted server listens on ${restarted.port}, not ${server.port}`);
  const swept = Number(/removed unacknowledged upload files count=(\d+)/.exec(restarted.output())?.[1] ?? 0);

  const listing = await sis(["list", "--json", "--home", opts.receiver.home, "--limit", "100000"]);
  if (listing.code !== 0 || listing.stderr !== "") {
    problems.push(`list failed: exit ${listing.code} ${listing.stderr}`);
    return { server: restarted, attempted: images.length, acknowledged: acknowledged.size, committedUnacknowledged: 0, swept, killAfterAcks, killDelayMs, problems };
  }
  const listed = JSON.parse(listing.stdout) as { id: string; owner: string; name: string; size: number }[];
  const byKey = new Map(listed.map((l) => [`${l.owner}/${l.name}`, l]));
  if (byKey.size !== listed.length) problems.push("the list names one owner/name twice");

  for (const [key, id] of acknowledged) {
    const l = byKey.get(key);
    if (!l) problems.push(`acknowledged ${key} (id ${id}) is not listed after the restart`);
    else if (l.id !== id) problems.push(`acknowledged ${key} was id ${id} but is listed as ${l.id}`);
  }
  for (const [key, kept] of opts.kept) {
    if (byKey.get(key)?.id !== kept.id) problems.push(`${key} (id ${kept.id}) from an earlier round is no longer listed`);
  }
  const sources = new Map(images.map((i) => [`${i.poster.user}/${i.name}`, i]));
  const fresh = listed.filter((l) => !opts.kept.has(`${l.owner}/${l.name}`));
  let committedUnacknowledged = 0;
  for (const l of fresh) {
    const key = `${l.owner}/${l.name}`;
    if (!sources.has(key)) problems.push(`${key} is listed but was never posted`);
    else if (!acknowledged.has(key)) committedUnacknowledged++;
  }
  problems.push(...(await checkBlobDir(server.dataDir, listed.map((l) => l.id))));

  // Present ⇒ complete: every image this round left listed downloads, verifies and matches its source.
  const getDir = join(opts.workDir, `got-${round}`);
  const gets = await mapLimit(fresh, 3, (l) => sis(["get", l.id, "-o", getDir, "--home", opts.receiver.home, "--quiet"], { timeoutMs: 180_000 }));
  for (const [i, r] of gets.entries()) {
    const l = fresh[i]!;
    const key = `${l.owner}/${l.name}`;
    const source = sources.get(key);
    if (r.code !== 0 || r.stderr !== "" || !r.stdout.startsWith(`saved ${key}: signature by ${l.owner} `) || !r.stdout.includes(" verified\n")) {
      problems.push(`get ${key} (id ${l.id}) did not download and verify: exit ${r.code} stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
      continue;
    }
    if (!source) continue;
    if ((await sha256File(join(getDir, key))) !== source.sha256) problems.push(`${key} downloads different bytes from the ones posted`);
    else opts.kept.set(key, { id: l.id, sha256: source.sha256 });
  }
  return { server: restarted, attempted: images.length, acknowledged: acknowledged.size, committedUnacknowledged, swept, killAfterAcks, killDelayMs, problems };
}

/** The server's own error lines (its log writes "<time> error <message>"). */
export function serverErrors(server: ServerProcess, label: string): string[] {
  return server.output().split("\n").filter((l) => / error /.test(l)).map((l) => `${label} logged: ${l}`);
}

export interface CrashRunOptions {
  rng: Seeded;
  rounds: number;
  uploads: number;
  posters: number;
  minSize: number;
  maxSize: number;
  workDir: string;
  log?: (line: string) => void;
}

export interface CrashRunReport {
  seed: number;
  rounds: number;
  uploads: number;
  acknowledged: number;
  committedUnacknowledged: number;
  listed: number;
  swept: number;
  kills: number;
  wallMs: number;
  problems: string[];
}

/**
 * A server, `posters` users (MAX_UPLOADS_PER_USER is 4, so several keep many
 * uploads in flight) and a receiver; `rounds` crash rounds on the same data
 * directory; then a clean stop and PRAGMA integrity_check.
 */
export async function runCrashRounds(opts: CrashRunOptions): Promise<CrashRunReport> {
  const started = Date.now();
  const dataDir = join(opts.workDir, "data");
  const report: CrashRunReport = { seed: opts.rng.seed, rounds: 0, uploads: 0, acknowledged: 0, committedUnacknowledged: 0, listed: 0, swept: 0, kills: 0, wallMs: 0, problems: [] };
  let server = await startServe(dataDir);
  try {
    const accounts: Account[] = [...Array.from({ length: opts.posters }, (_, i) => `poster${i}`), "receiver"].map((user) => ({ user, home: join(opts.workDir, user) }));
    const regs = await mapLimit(accounts, 2, (a) => register(server, a.user, a.home));
    for (const [i, r] of regs.entries()) {
      if (r.code !== 0 || r.stderr !== "") throw new Error(`register ${accounts[i]!.user} failed: exit ${r.code} ${r.stderr}`);
    }
    const receiver = accounts.pop()!;
    const kept = new Map<string, { id: string; sha256: string }>();
    for (let round = 1; round <= opts.rounds; round++) {
      const r = await runCrashRound({ server, posters: accounts, receiver, round, rng: opts.rng, uploads: opts.uploads, minSize: opts.minSize, maxSize: opts.maxSize, workDir: opts.workDir, kept, ...(opts.log ? { log: opts.log } : {}) });
      server = r.server;
      opts.log?.(`round ${round}: ${r.acknowledged} acknowledged, ${r.committedUnacknowledged} committed without acknowledgement, ${r.swept} upload files swept at restart`);
      report.rounds++;
      report.kills++;
      report.uploads += r.attempted;
      report.acknowledged += r.acknowledged;
      report.committedUnacknowledged += r.committedUnacknowledged;
      report.swept += r.swept;
      report.problems.push(...r.problems);
    }
    report.listed = kept.size;
  } finally {
    await server.stop("SIGTERM");
  }
  if (server.proc.exitCode !== 0) report.problems.push(`the last server exited ${server.proc.exitCode ?? server.proc.signalCode} after SIGTERM`);
  report.problems.push(...serverErrors(server, "the last server"));
  report.problems.push(...checkDatabase(dataDir).map((p) => `after the clean stop: ${p}`));
  report.wallMs = Date.now() - started;
  return report;
}
