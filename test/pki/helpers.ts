/** Test helpers for the PKI suite: a shared CA, temp files and an openssl runner (OpenSSL is the judge). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority, createCa, type CaFiles } from "../../src/pki/ca.ts";

export const CERTS_DIR = join(import.meta.dir, "../../certs");

export function fixture(name: string): string {
  return readFileSync(join(CERTS_DIR, name), "utf8");
}

export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

type Stdin = Uint8Array | string;

function spawnOpenssl(args: string[], opts: { cwd?: string; stdin?: Stdin }) {
  const stdin = opts.stdin === undefined ? "ignore" : new Blob([typeof opts.stdin === "string" ? opts.stdin : new Uint8Array(opts.stdin)]);
  return Bun.spawnSync(["openssl", ...args], { cwd: opts.cwd, stdin, stdout: "pipe", stderr: "pipe" });
}

/** Runs `openssl …args` in `cwd`; stdin may be given. Never throws on a non-zero exit: tests judge it. */
export function openssl(args: string[], opts: { cwd?: string; stdin?: Stdin } = {}): OpensslResult {
  const proc = spawnOpenssl(args, opts);
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

/** DER bytes of an openssl command's stdout (e.g. `req -outform DER`); throws if openssl fails. */
export function opensslDer(args: string[], opts: { cwd?: string; stdin?: Stdin } = {}): Uint8Array {
  const proc = spawnOpenssl(args, opts);
  if (proc.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${proc.stderr.toString()}`);
  return new Uint8Array(proc.stdout);
}

/** A temporary directory removed by `using`. */
export function tempDir(): { path: string; write(name: string, data: string | Uint8Array): string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "sis-pki-"));
  return {
    path,
    write(name, data) {
      const file = join(path, name);
      writeFileSync(file, data);
      return file;
    },
    [Symbol.dispose]() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

let shared: Promise<{ files: CaFiles; ca: CertificateAuthority }> | undefined;

/** One CA for the whole suite: RSA-3072 generation takes a noticeable fraction of a second. */
export function sharedCa(): Promise<{ files: CaFiles; ca: CertificateAuthority }> {
  shared ??= (async () => {
    const files = await createCa({ commonName: "sis CA test" });
    return { files, ca: await CertificateAuthority.load(files) };
  })();
  return shared;
}

/** A fresh RSA-2048 CSR made by openssl, with the given subject. */
export function opensslCsr(subject = "/CN=x"): Uint8Array {
  using dir = tempDir();
  return opensslDer(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir.path, "k.pem"), "-subj", subject, "-outform", "DER"]);
}

/** Asserts that `fn` (sync or async) fails with a PkiError carrying `code`. */
export async function failsWithCode(fn: () => unknown, code: string): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof Error) || caught.name !== "PkiError" || (caught as { code?: string }).code !== code) {
    throw new Error(`expected PkiError ${code}, got ${caught instanceof Error ? `${caught.name}: ${(caught as { code?: string }).code} ${caught.message}` : String(caught)}`);
  }
}
