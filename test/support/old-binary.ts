/**
 * The sis of protocol version 1, compiled from the commit before version 2 (PROTOCOL.md P10a), and
 * of version 3, from the commit before version 4, for the compatibility tests: `git archive` of that commit, this checkout's node_modules linked in,
 * `bun build --compile` as package.json's build script does. Built once and kept in
 * test-artifacts/, keyed by the commit, so a run (and the next) builds it once.
 */
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

/** main before protocol version 2: speaks version 1 only. */
export const VERSION_ONE_COMMIT = "457748b";
/** main before protocol version 4: speaks versions 1–3 (cut-through, no ranged DOWNLOAD). */
export const VERSION_THREE_COMMIT = "a70afe6";
/** main before ECDSA P-256 time-stamping keys (ENVELOPE.md G9): its receivers check RSA tokens only. */
export const BEFORE_P256_TSA_COMMIT = "7822a47";

const REPO = resolve(import.meta.dir, "../..");
const ARTIFACTS = join(REPO, "test-artifacts", "compat");

async function run(cmd: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}) in ${cwd}:\n${out}\n${err}`);
}

/** The path of the version-1 binary, built if this checkout has none yet. */
export function versionOneBinary(): Promise<string> {
  return binaryAt(VERSION_ONE_COMMIT);
}

/** The path of the version-3 binary (main before version 4), built if this checkout has none yet. */
export function versionThreeBinary(): Promise<string> {
  return binaryAt(VERSION_THREE_COMMIT);
}

/** The path of the build before P-256 time-stamping keys, built if this checkout has none yet. */
export function beforeP256TsaBinary(): Promise<string> {
  return binaryAt(BEFORE_P256_TSA_COMMIT);
}

/** The sis of `commit`, compiled once into test-artifacts/compat/. */
async function binaryAt(commit: string): Promise<string> {
  const binary = join(ARTIFACTS, `sis-${commit}`);
  if (existsSync(binary)) return binary;
  const src = join(ARTIFACTS, `src-${commit}-${process.pid}`);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  try {
    await run(["sh", "-c", `git -C "$0" archive ${commit} | tar -x -C "$1"`, REPO, src], REPO);
    symlinkSync(join(REPO, "node_modules"), join(src, "node_modules"));
    const bun = join(REPO, "node_modules", ".bin", "bun");
    await run([bun, "build", "cli/main.ts", "src/gallery/preview-worker.ts", "--compile", "--splitting", "--bytecode", "--format=esm", "--minify", "--sourcemap", "--outfile", "dist/sis"], src);
    // Renamed into place whole, so a concurrent run never starts a half-written binary.
    renameSync(join(src, "dist", "sis"), binary);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
  return binary;
}

/**
 * A `prefix` for sis(), startServe() and startWatch() (test/support/cli.ts) that runs `binary`
 * instead of dist/sis: the shell drops the path it is given and execs the other binary in its
 * place (no fork, so stopping the process stops sis itself).
 */
export function runAs(binary: string): string[] {
  return ["sh", "-c", 'shift; exec "$0" "$@"', binary];
}
