/** Drives the compiled binary: a server process on port 0 and one-shot client commands. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The binary under test: dist/sis, or SIS_BIN when a private build is wanted. */
export const SIS = process.env.SIS_BIN ?? resolve(import.meta.dir, "../../dist/sis");

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sis ARGS`, feeding `stdin`; stdout, stderr and exit code are all returned. */
/** `prefix` runs the binary through a wrapper (a wrapper that forks, such as faketime, is not stopped by stop(): use `env` there, FAKE_TIME). */
export async function sis(args: string[], opts: { stdin?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number; prefix?: string[] } = {}): Promise<Result> {
  const proc = Bun.spawn([...(opts.prefix ?? []), SIS, ...args], {
    stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...opts.env },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  const timer = setTimeout(() => proc.kill(), opts.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export function tempDir(prefix = "sis-test-"): string & Disposable {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return Object.assign(dir, { [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) }) as unknown as string & Disposable;
}

export interface ServerProcess extends AsyncDisposable {
  port: number;
  httpPort: number;
  fingerprint: string;
  address: string;
  dataDir: string;
  /** The first user's invitation it printed (M7), when started invitation-only on an empty database. */
  invitation: string | null;
  proc: ReturnType<typeof Bun.spawn>;
  output(): string;
  /** Its stderr alone: the log (and the new-CA notice). */
  log(): string;
  stop(signal?: NodeJS.Signals | number): Promise<void>;
}

/** libfaketime for a process spawned directly (no wrapper process in between): its clock `offset` ahead, e.g. "+300d". */
export function fakeTime(offset: string): Record<string, string> {
  return { LD_PRELOAD: "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

/**
 * Starts `sis serve` on free ports and waits for the line that says where it listens; `prefix` and `env` as for sis().
 * Its log is text (`--log-format text`, which `extra` may override): the tests read it as a person would.
 * With --open-registration unless `invitations` is set: most tests register users
 * freely; those about invitations (M4–M7) start it invitation-only.
 */
export async function startServe(dataDir: string, extra: string[] = [], opts: { prefix?: string[]; env?: Record<string, string>; invitations?: boolean } = {}): Promise<ServerProcess> {
  const open = opts.invitations ? [] : ["--open-registration"];
  const proc = Bun.spawn([...(opts.prefix ?? []), SIS, "serve", "--data", dataDir, "--port", "0", "--http-port", "0", "--log-format", "text", ...open, ...extra], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...opts.env },
  });
  let out = "";
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + 60_000;
  while (!/^users register with: /m.test(out)) {
    if (Date.now() > deadline) throw new Error(`sis serve did not start:\n${out}\n${err}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`sis serve exited (${await proc.exited}):\n${out}\n${err}`);
    out += decoder.decode(value);
  }
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value);
    }
  })();
  const port = Number(/^protocol: tls:\/\/[^\s]+:(\d+)$/m.exec(out)![1]);
  const httpPort = Number(/^http: http:\/\/[^\s]+:(\d+)/m.exec(out)![1]);
  const fingerprint = /^CA fingerprint \(SHA-256\): ([0-9A-F:]+)$/m.exec(out)![1]!;
  const stop = async (signal: NodeJS.Signals | number = "SIGTERM") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await proc.exited;
  };
  return {
    port,
    httpPort,
    fingerprint,
    address: `127.0.0.1:${port}`,
    dataDir,
    invitation: /^invitation: (\S+)$/m.exec(out)?.[1] ?? null,
    proc,
    output: () => out + err,
    log: () => err,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}

/** Registers USER in HOME with --password-stdin --ca-fingerprint (2048-bit keys keep tests quick). */
export function register(server: ServerProcess, user: string, home: string, password = `${user}-password-1`): Promise<Result> {
  return sis(["register", "--server", server.address, "--user", user, "--home", home, "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], {
    stdin: password + "\n",
  });
}

/** Registers USER with an invitation read from stdin (`--invite -`, M4), then the password on the next line. */
export function registerInvited(invitation: string, user: string, home: string, password = `${user}-password-1`, env: Record<string, string> = {}): Promise<Result> {
  return sis(["register", "--invite", "-", "--user", user, "--home", home, "--password-stdin", "--key-bits", "2048"], { stdin: `${invitation}\n${password}\n`, env });
}

/** A long-running `sis watch`; lines collected as they come. */
export interface WatchProcess extends AsyncDisposable {
  proc: ReturnType<typeof Bun.spawn>;
  lines: string[];
  /** The lines it wrote to stderr alone (they are in `lines` too). */
  errLines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals | number): Promise<void>;
}

/** `sis watch`; `prefix` runs it through a wrapper (e.g. a shell that sets a resource limit, then exec "$0" "$@"). */
export function startWatch(home: string, outDir: string, opts: { prefix?: string[]; env?: Record<string, string> } = {}): WatchProcess {
  const proc = Bun.spawn([...(opts.prefix ?? []), SIS, "watch", "--home", home, "-o", outDir], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...opts.env } });
  const lines: string[] = [];
  const errLines: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, also?: string[]) => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        also?.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        for (const w of waiters) w();
      }
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr, errLines);
  const stop = async (signal: NodeJS.Signals | number = "SIGTERM") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await proc.exited;
  };
  return {
    proc,
    lines,
    errLines,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => pattern.test(l));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`watch never printed ${pattern}; it printed:\n${lines.join("\n")}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 250);
          waiters.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
        waiters.clear();
      }
    },
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}

/** `sis admin init-cluster --out DIR --name NAMES`: the keys a node in cluster mode (--database postgres, --keys) loads; fails the test if refused. */
export async function initCluster(dir: string, names = "localhost"): Promise<Result> {
  const r = await sis(["admin", "init-cluster", "--out", dir, "--name", names]);
  if (r.code !== 0) throw new Error(`sis admin init-cluster failed (${r.code}): ${r.stderr}`);
  return r;
}
