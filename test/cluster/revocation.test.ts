/**
 * Revocations and disabled accounts across a cluster of three nodes (docs/SCALING.md, ST3):
 * `sis admin … --database` ends the user's sessions on every node, and /crl.pem is one CRL,
 * byte-identical on every node, whose number never goes down (also across a node's restart).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { limited, registerAt, startWatchers, stopWatchers, type Watcher } from "../support/cluster-clients.ts";
import { until } from "../support/until.ts";

let c: Cluster;
const running: Watcher[] = [];
beforeAll(async () => {
  // Sessions are checked against the revocation version every second.
  c = await startCluster({ serveArgs: ["--revocation-check", "1"] });
});
afterAll(async () => {
  await stopWatchers(running);
  await c?.[Symbol.asyncDispose]();
});

/** openssl's reading of a CRL: its number and the serials it lists (lower-case hex). */
function readCrl(pem: Uint8Array): { number: bigint; serials: string[] } {
  const dir = mkdtempSync(join(c.root, "crl-"));
  const file = join(dir, "crl.pem");
  writeFileSync(file, pem);
  const r = Bun.spawnSync(["openssl", "crl", "-in", file, "-noout", "-text"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl crl refused the CRL: ${r.stderr.toString()}`);
  const text = r.stdout.toString();
  const m = /X509v3 CRL Number:\s*\n\s*(\S+)/.exec(text);
  if (!m) throw new Error(`the CRL has no CRL number:\n${text}`);
  const number = m[1]!.startsWith("0x") ? BigInt(m[1]!) : BigInt(m[1]!);
  const serials = [...text.matchAll(/Serial Number: ([0-9A-Fa-f]+)/g)].map((s) => s[1]!.toLowerCase().replace(/^0+/, ""));
  return { number, serials };
}

/** Every node's /crl.pem, fetched one after another. */
function crls(): Promise<Uint8Array[]> {
  return Promise.all(c.nodes.map((n) => c.http(n.index, "/crl.pem")));
}

/** Numbers seen so far, in the order seen, from any node: they must never go down. */
const numbers: bigint[] = [];
async function sameCrlEverywhere(): Promise<{ number: bigint; serials: string[] }> {
  const all = await crls();
  for (const pem of all) numbers.push(readCrl(pem).number);
  for (const [i, pem] of all.entries()) expect({ node: i + 1, identical: Buffer.compare(pem, all[0]!) === 0 }).toEqual({ node: i + 1, identical: true });
  return readCrl(all[0]!);
}

function expectNeverDown(): void {
  for (let i = 1; i < numbers.length; i++) expect({ at: i, number: numbers[i]! >= numbers[i - 1]! }).toEqual({ at: i, number: true });
}

async function serialOf(user: string): Promise<string> {
  const r = await c.admin(["certs", "--json"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const rows = JSON.parse(r.stdout) as { user: string; serial: string }[];
  const mine = rows.filter((x) => x.user === user);
  expect(mine.length).toBe(1);
  return mine[0]!.serial.toLowerCase().replace(/^0+/, "");
}

/** Six watchers of `user` through HAProxy (leastconn: two per node), and each node holding some of them. */
async function watchersOnEveryNode(user: string): Promise<Watcher[]> {
  const home = await registerAt(c, user);
  const before = await Promise.all(c.nodes.map((n) => c.metric(n.index, "sis_authenticated_clients")));
  const ws = await startWatchers(c, Array(6).fill(home), user);
  running.push(...ws);
  const after = await Promise.all(c.nodes.map((n) => c.metric(n.index, "sis_authenticated_clients")));
  for (const n of c.nodes) expect({ node: n.index + 1, gained: after[n.index]! > before[n.index]! }).toEqual({ node: n.index + 1, gained: true });
  return ws;
}

async function exitCodes(ws: Watcher[]): Promise<(number | string)[]> {
  return Promise.all(ws.map((x) => Promise.race([x.w.proc.exited, Bun.sleep(30_000).then(() => "still running")])));
}

test("sis admin revoke --database ends the user's watches on every node (exit 3); /crl.pem is byte-identical on every node, lists the serial, and its number went up", async () => {
  const first = await sameCrlEverywhere();
  const bystanders = await watchersOnEveryNode("bystander");
  const ws = await watchersOnEveryNode("mallory");
  const serial = await serialOf("mallory");
  expect(first.serials).not.toContain(serial);

  const r = await c.admin(["revoke", "mallory"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(await exitCodes(ws)).toEqual(Array(6).fill(3));
  for (const x of ws) expect(x.w.lines.join("\n")).toMatch(/CERT_REVOKED/);
  for (const x of bystanders) expect(x.w.proc.exitCode).toBeNull();

  const after = await sameCrlEverywhere();
  expect(after.serials).toContain(serial);
  expect(after.number > first.number).toBe(true);
  expectNeverDown();
});

test("sis admin disable --database ends the user's watches on every node with ACCOUNT_DISABLED; the CRL stays one CRL", async () => {
  const ws = await watchersOnEveryNode("trudy");
  const r = await c.admin(["disable", "trudy"]);
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: "disabled trudy; their open connections end within seconds\n", stderr: "" });
  expect(await exitCodes(ws)).toEqual(Array(6).fill(3));
  for (const x of ws) expect(x.w.lines.join("\n")).toMatch(/^sis: cannot watch: your account has been disabled.*\(ACCOUNT_DISABLED\)$/m);
  await sameCrlEverywhere();
  expectNeverDown();
});

test("a restarted node serves the same CRL, its number not lower than any seen, and a new revocation raises it on every node", async () => {
  const before = await sameCrlEverywhere();
  await c.kill(2);
  await c.restart(2);
  const restarted = await sameCrlEverywhere();
  expect(restarted.number >= before.number).toBe(true);

  await registerAt(c, "oscar");
  const serial = await serialOf("oscar");
  const r = await c.admin(["revoke", "oscar"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  // Each node takes up the new revocation at its next request; then all serve the same, newer CRL.
  await until(async () => (await crls()).every((pem) => readCrl(pem).serials.includes(serial)), "every node's CRL to list oscar's serial", 30_000);
  const last = await sameCrlEverywhere();
  expect(last.number > restarted.number).toBe(true);
  expectNeverDown();
});
