/** A private PostgreSQL server per test file: initdb into a temporary folder, a free port, run as the `postgres` user, stopped in afterAll. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";

const MISSING = "PostgreSQL server binaries not found: apt-get install postgresql";
/** PostgreSQL refuses to run as root: it runs as this system user (Debian's package creates it). */
const SERVER_USER = "postgres";

export interface PostgresServer {
  port: number;
  /** The folder of the data directory and the unix socket. */
  dir: string;
  /** postgres://…@127.0.0.1:port/db for a fresh, empty database (slow: about a second with fsync on). */
  newDatabase(): Promise<string>;
  /** The URL of one shared database and a fresh schema name in it (fast): for tests that do not LISTEN. */
  newSchema(): Promise<{ url: string; schema: string }>;
  /** Stops the server (fast shutdown: every connection is cut) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** A superuser client on the `postgres` database, for tests that look behind the store (pg_stat_activity, pg_terminate_backend). */
  admin: SQL;
  stop(): Promise<void>;
}

/** Where initdb, postgres and pg_ctl may live: /usr/local/bin, then Debian's /usr/lib/postgresql/<version>/bin, newest first. */
export function postgresBinCandidates(): string[] {
  const candidates = ["/usr/local/bin"];
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    for (const v of readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(join(debian, v, "bin"));
  }
  return candidates;
}

/** The first folder holding all three server binaries; none: an error that says what to install (the tests fail, never skip). */
export function postgresBinDir(candidates = postgresBinCandidates()): string {
  for (const dir of candidates) {
    if (["initdb", "postgres", "pg_ctl"].every((b) => existsSync(join(dir, b)))) return dir;
  }
  throw new Error(`${MISSING} (looked in ${candidates.join(", ")})`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Spawn options that run a child as the server user when we are root (PostgreSQL refuses root). */
function asServerUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? serverUserIds() : {};
}

/** Runs `argv` as the server user, throwing with its output on failure. */
function runAsServerUser(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", ...asServerUser() });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.error ?? ""}${r.stderr}${r.stdout}`);
}

function serverUserIds(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", SERVER_USER], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", SERVER_USER], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) throw new Error(`no '${SERVER_USER}' system user: ${MISSING}`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * initdb (trust authentication, listening on 127.0.0.1 only, UTF-8, C
 * locale), then postgres with fsync and synchronous_commit on, both as the
 * `postgres` user when we are root. The server is a child of this process;
 * stop() ends it with pg_ctl stop -m fast, or SIGKILL; a runner that exits
 * without stop() sends it SIGINT (fast shutdown).
 */
interface Postmaster {
  child: ChildProcess;
  data: string;
  bin: string;
  exited: () => boolean;
}

/**
 * Spawns the postmaster directly as the server user (not through runuser, so
 * a signal reaches it) and waits until it accepts connections. A test runner
 * that exits without stop() (a crash, a timeout) sends it SIGINT, PostgreSQL's
 * fast shutdown, rather than leave a server behind.
 */
async function launch(postgres: string, opts: string[], probeUrl: string): Promise<Postmaster> {
  const child = spawn(postgres, opts, { stdio: ["ignore", "ignore", "pipe"], ...asServerUser() });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  let exited = false;
  const onExit = () => {
    if (!exited) child.kill("SIGINT");
  };
  process.once("exit", onExit);
  child.once("exit", () => {
    exited = true;
    process.off("exit", onExit);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`postgres exited at start-up: ${stderr}`);
    const probe = new SQL(probeUrl, { max: 1, connectionTimeout: 2 });
    try {
      await probe`SELECT 1`;
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections in 30 s: ${String(err)} ${stderr}`);
      await Bun.sleep(50);
    } finally {
      await probe.close();
    }
  }
  const data = opts[opts.indexOf("-D") + 1]!;
  return { child, data, bin: postgres.slice(0, postgres.lastIndexOf("/")), exited: () => exited };
}

/** pg_ctl stop -m fast (or SIGKILL if that fails), then waits for the postmaster to exit. */
async function halt(p: Postmaster): Promise<void> {
  if (p.exited()) return;
  const gone = new Promise((r) => p.child.once("exit", r));
  try {
    runAsServerUser([join(p.bin, "pg_ctl"), "stop", "-D", p.data, "-m", "fast", "-w", "-t", "20"]);
  } catch {
    p.child.kill("SIGKILL");
  }
  if (!p.exited()) await gone;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), "sis-pg-"));
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const { uid, gid } = serverUserIds();
    chownSync(dir, uid, gid);
  }
  runAsServerUser([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  const port = await freePort();
  const opts = [
    "-D", data, "-p", String(port), "-k", dir, "-h", "127.0.0.1",
    "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=100",
    "-c", "shared_buffers=16MB", "-c", "log_min_messages=warning",
  ];
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  let server = await launch(join(bin, "postgres"), opts, url("postgres"));

  const admin = new SQL(url("postgres"), { max: 2 });
  let n = 0;
  let shared: Promise<string> | undefined;
  const newDatabase = async (): Promise<string> => {
    const name = `sis_test_${process.pid}_${++n}`;
    // Identifier from our own counter and pid, not input.
    await admin.unsafe(`CREATE DATABASE ${name}`);
    return url(name);
  };
  return {
    port,
    dir,
    admin,
    newDatabase,
    async newSchema() {
      shared ??= newDatabase();
      return { url: await shared, schema: `s${++n}` };
    },
    async restart() {
      await halt(server);
      server = await launch(join(bin, "postgres"), opts, url("postgres"));
    },
    async stop() {
      await admin.close().catch(() => {});
      await halt(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

