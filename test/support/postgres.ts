/** A private PostgreSQL server per test file: initdb into a temporary folder, a free port, run as the `postgres` user, stopped in afterAll. */
import { spawn, spawnSync } from "node:child_process";
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

/** Runs `argv` as the server user (runuser when we are root), throwing with its output on failure. */
function runAsServerUser(argv: string[]): void {
  const [cmd, ...args] = process.getuid?.() === 0 ? ["runuser", "-u", SERVER_USER, "--", ...argv] : argv;
  const r = spawnSync(cmd!, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

function serverUserIds(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", SERVER_USER], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", SERVER_USER], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) throw new Error(`no '${SERVER_USER}' system user: ${MISSING}`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * initdb (trust authentication on 127.0.0.1 only, UTF-8, C locale), then
 * postgres with fsync and synchronous_commit on. The server is a child of
 * this process; stop() ends it with pg_ctl stop -m fast, or SIGKILL.
 */
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
  const [cmd, ...args] = process.getuid?.() === 0
    ? ["runuser", "-u", SERVER_USER, "--", join(bin, "postgres"), ...opts]
    : [join(bin, "postgres"), ...opts];
  const child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });

  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`postgres exited at start-up: ${stderr}`);
    const probe = new SQL(url("postgres"), { max: 1, connectionTimeout: 2 });
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
    async stop() {
      await admin.close().catch(() => {});
      if (!exited) {
        try {
          runAsServerUser([join(bin, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w", "-t", "20"]);
        } catch {
          child.kill("SIGKILL");
        }
        if (!exited) await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

