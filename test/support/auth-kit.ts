/** Helpers for the registration, certification and secure-channel tests: OpenSSL as judge, raw frames, fixtures. */
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createKeyAndCsr, fromPem, toPem } from "../../src/pki/index.ts";
import { toBase64, type ServerMessage } from "../../src/protocol/index.ts";
import { helloFrame } from "./frames.ts";
import { rawConnect, type ErrorReply, type RawClient } from "./raw-client.ts";

export const CERTS_DIR = resolve(import.meta.dir, "../../certs");

export function certPath(name: string): string {
  return join(CERTS_DIR, name);
}

export function certFile(name: string): string {
  return readFileSync(certPath(name), "utf8");
}

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs openssl without blocking the event loop (an in-process server may need it); never throws on exit code. */
export async function openssl(args: string[], opts: { stdin?: Uint8Array | string; cwd?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
  const proc = Bun.spawn(["openssl", ...args], {
    stdin: opts.stdin !== undefined ? new Blob([typeof opts.stdin === "string" ? opts.stdin : new Uint8Array(opts.stdin)]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  const timer = setTimeout(() => proc.kill(), opts.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it (colon-separated, upper case). */
export async function opensslFingerprint(pemPath: string): Promise<string> {
  const r = await openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", pemPath]);
  if (r.code !== 0) throw new Error(`openssl could not read ${pemPath}: ${r.stderr}`);
  return r.stdout.trim().replace(/^.*=/, "");
}

export { controlFrame, helloFrame, rawFrame } from "./frames.ts";

/** A CSR fixture made by OpenSSL (PEM on disk), as the base64 DER a REGISTER carries. */
export function csrFixtureBase64(name: string): string {
  return toBase64(fromPem(certFile(name), "CERTIFICATE REQUEST"));
}

/** A fresh 2048-bit key and a CSR for it, ready for REGISTER and for a raw TLS client. */
export async function freshCsr(username: string): Promise<{ csr: string; keyPem: string }> {
  const { privateKeyPkcs8, csrDer } = await createKeyAndCsr({ username, bits: 2048 });
  return { csr: toBase64(csrDer), keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY") };
}

/** Expects the next message to be an ERROR with `code`; returns it for further checks. */
export async function expectError(client: RawClient, code: string): Promise<ErrorReply> {
  const reply = await client.next();
  if (reply === null) throw new Error(`the server closed the connection instead of answering ${code}`);
  if (reply.type !== "ERROR") throw new Error(`expected ERROR ${code}, got ${JSON.stringify(reply).slice(0, 300)}`);
  if (reply.code !== code) throw new Error(`expected ERROR ${code}, got ${reply.code}: ${reply.message}`);
  return reply;
}

/** Resolves true if the server closes the connection within the deadline, false otherwise. */
export async function closedWithin(client: RawClient, ms = 10_000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const result = await Promise.race([client.closed.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

/** A fresh anonymous connection gets the server's HELLO: the server is still serving. */
export async function anonymousHello(port: number): Promise<ServerMessage | null> {
  await using client = await rawConnect(port);
  return await client.hello();
}

/** Sends HELLO on an open raw connection and expects the server's HELLO back. */
export async function helloAs(client: RawClient): Promise<Extract<ServerMessage, { type: "HELLO" }>> {
  client.write(helloFrame());
  const reply = await client.next();
  if (reply?.type !== "HELLO") throw new Error(`expected HELLO, got ${JSON.stringify(reply)?.slice(0, 300)}`);
  return reply;
}

export { until } from "./until.ts";
export type { ErrorReply } from "./raw-client.ts";

/** Checks a spawned process on exit code, stdout and stderr together; a mismatch shows all three. */
export function expectRun(result: ProcResult, want: { code: number; stdout?: RegExp | string; stderr?: RegExp | string }): void {
  const match = (v: RegExp | string | undefined) => (v === undefined ? expect.any(String) : typeof v === "string" ? v : expect.stringMatching(v));
  expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: want.code, stdout: match(want.stdout), stderr: match(want.stderr) });
}
