/** Parent side of a bench helper process: spawn `bun bench/X.ts`, send JSON commands, await JSON lines. */
import { resolve } from "node:path";

export type Line = Record<string, unknown>;

export interface Child extends AsyncDisposable {
  pid: number;
  send(command: Line): void;
  /** The first line (old or new) that `match` accepts; throws after `timeoutMs` or if the child exits. */
  next(match: (line: Line) => boolean, timeoutMs?: number, what?: string): Promise<Line>;
  stop(): Promise<void>;
}

/**
 * SIS_BENCH_CHILD_PROF=DIR profiles the helper scripts named in SIS_BENCH_CHILD_PROF_SCRIPTS
 * (comma-separated, e.g. download-worker.ts) under `bun --cpu-prof` into DIR; their stop() then
 * closes stdin and waits, since a profile is written only at a clean exit.
 */
const PROFILE_DIR = process.env.SIS_BENCH_CHILD_PROF;
const PROFILED = new Set((process.env.SIS_BENCH_CHILD_PROF_SCRIPTS ?? "").split(",").filter(Boolean));

/** Runs bench/<script> under the bun that runs the bench. */
export function spawnChild(script: string, args: string[]): Child {
  const profiled = PROFILE_DIR !== undefined && PROFILED.has(script);
  const profile = profiled ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : [];
  const proc = Bun.spawn([process.execPath, ...profile, resolve(import.meta.dir, script), ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const lines: Line[] = [];
  let stderr = "";
  let exited = false;
  // A holder, not a let: TypeScript would narrow a closure-assigned let to null.
  const waiter: { wake: (() => void) | null } = { wake: null };
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(text) as Line);
        } catch {
          stderr += text + "\n";
        }
      }
      waiter.wake?.();
    }
  })();
  void (async () => {
    for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  void proc.exited.then(() => {
    exited = true;
    waiter.wake?.();
  });
  const stop = async () => {
    if (profiled) {
      proc.stdin.end();
      await Promise.race([proc.exited, Bun.sleep(5000)]);
    }
    if (proc.exitCode === null && proc.signalCode === null) proc.kill();
    await proc.exited;
  };
  return {
    pid: proc.pid,
    send(command) {
      proc.stdin.write(JSON.stringify(command) + "\n");
      proc.stdin.flush();
    },
    async next(match, timeoutMs = 60_000, what = "a reply") {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = lines.findIndex(match);
        if (at >= 0) return lines.splice(at, 1)[0]!;
        if (exited) throw new Error(`${script} exited (${proc.exitCode}) before ${what}:\n${stderr.slice(-2000)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${script} gave no ${what} within ${timeoutMs} ms:\n${stderr.slice(-2000)}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 1000));
          waiter.wake = () => {
            clearTimeout(t);
            waiter.wake = null;
            r();
          };
        });
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
