/** Start-up cost: `dist/sis --version` against a bare `bun -e 0`, interleaved, wall clock of spawn to exit. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SIS } from "../test/support/cli.ts";
import { clockMs } from "./measure.ts";
import type { Results } from "./results.ts";

function timeRun(argv: string[], expect: RegExp): number {
  const t0 = clockMs();
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  const ms = clockMs() - t0;
  if (r.exitCode !== 0 || !expect.test(r.stdout.toString())) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return ms;
}

/**
 * `workDir` receives a one-line program compiled with dist/sis's flags: what
 * any `bun build --compile` binary costs to start, whatever it contains.
 */
export function runStartup(results: Results, reps: number, workDir: string): void {
  const sis = [SIS, "--version"];
  // `bun -e 0` evaluates an expression and exits: Bun's own start-up with nothing loaded.
  const bare = [process.execPath, "-e", "0"];
  const source = join(workDir, "hello.ts");
  const hello = join(workDir, "hello");
  writeFileSync(source, 'process.stdout.write("hello\\n");\n');
  const built = Bun.spawnSync([process.execPath, "build", source, "--compile", "--bytecode", "--format=esm", "--minify", "--outfile", hello], { stdout: "pipe", stderr: "pipe" });
  const withHello = built.exitCode === 0;
  for (let rep = -2; rep < reps; rep++) {
    const a = timeRun(sis, /^sis \d/);
    const b = timeRun(bare, /^$/);
    const c = withHello ? timeRun([hello], /^hello/) : 0;
    if (rep < 0) continue;
    results.add("version_ms", a, "ms", "dist/sis --version: spawn to exit");
    results.add("bun_bare_ms", b, "ms", "bun -e 0: spawn to exit");
    if (withHello) results.add("compiled_hello_ms", c, "ms", "a one-line program compiled like dist/sis: spawn to exit");
  }
}
