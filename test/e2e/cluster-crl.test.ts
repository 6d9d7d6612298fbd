/** The compiled binary, two nodes on one PostgreSQL (issue 16): one signed CRL for every node, its number from the database. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { initCluster, register, sis, startServe, tempDir } from "../support/cli.ts";
import { crlNumber, opensslCrlText } from "../support/openssl-crl.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

async function crlOf(httpPort: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/crl.pem`);
  expect(r.status).toBe(200);
  return r.text();
}

test("a revocation via sis admin: /crl.pem is byte-identical on both nodes, lists the serial, and its number grows, also after a restart", async () => {
  using root = tempDir("sis-cluster-crl-");
  const url = await pg.newDatabase();
  const keys = join(root, "keys");
  await initCluster(keys);
  const a = await startServe(join(root, "a"), ["--database", url, "--keys", keys]);
  let b = await startServe(join(root, "b"), ["--database", url, "--keys", keys]);
  try {
    const reg = await register(a, "alice", join(root, "alice"));
    expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: "" });
    const before = await crlOf(a.httpPort);
    expect(await crlOf(b.httpPort)).toBe(before);
    expect(opensslCrlText(before)).toContain("No Revoked Certificates");

    const revoked = await sis(["admin", "revoke", "alice", "--data", keys, "--database", url]);
    expect({ code: revoked.code, stderr: revoked.stderr }).toEqual({ code: 0, stderr: "" });
    const who = await sis(["admin", "certs", "--data", keys, "--database", url, "--json"]);
    const serial = (JSON.parse(who.stdout) as { serial: string }[])[0]!.serial;

    // Asked of both at once: one of them signs, the other serves the stored CRL.
    const [fromA, fromB] = await Promise.all([crlOf(a.httpPort), crlOf(b.httpPort)]);
    expect(fromB).toBe(fromA);
    const text = opensslCrlText(fromA);
    // openssl prints whole bytes (05d4…), the store's serial has no leading zeros (5d4…): compare without them.
    const listed = [...text.matchAll(/Serial Number: ([0-9A-Fa-f]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ""));
    expect(listed).toContain(serial.toLowerCase().replace(/^0+/, ""));
    expect(crlNumber(fromA)).toBeGreaterThan(crlNumber(before));

    // B restarted: the same stored CRL, number for number.
    const port = b.port;
    await b.stop();
    b = await startServe(join(root, "b"), ["--database", url, "--keys", keys, "--port", String(port)]);
    expect(await crlOf(b.httpPort)).toBe(fromA);
    expect(await crlOf(a.httpPort)).toBe(fromA);
  } finally {
    await b.stop();
    await a.stop();
  }
});
