/** CrlCache on PostgreSQL (issue 16, ports.ts ST9): nodes on one database serve one CRL; of nodes asking at once, one signs. */
import "reflect-metadata";
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { CertificateAuthority, createCa, verifyCrl } from "../../src/pki/index.ts";
import { CrlCache } from "../../src/server/crl-cache.ts";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { newCert } from "../store/fixtures.ts";
import { crlNumber, opensslCrlText } from "../support/openssl-crl.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";

setDefaultTimeout(60_000);

let pg: PostgresServer;
let ca: CertificateAuthority;
beforeAll(async () => {
  pg = await startPostgres();
  ca = await CertificateAuthority.load(await createCa({ commonName: "sis CA crl-cache-pg" }));
}, 120_000);
afterAll(() => pg?.stop());

test("three nodes asking at once after a revocation: one signs, all serve the same bytes, and the number grows by one", async () => {
  const { url, schema } = await pg.newSchema();
  const nodes = await Promise.all([0, 1, 2].map(() => PostgresStore.open(url, { max: 3, schema })));
  try {
    const userId = (await nodes[0]!.createUser("alice", "$argon2id$unused")).id;
    for (const serial of ["b1", "b2"]) await nodes[0]!.addCert(newCert(userId, serial));
    let signed = 0;
    const countingCa = { createCrl: (req: Parameters<CertificateAuthority["createCrl"]>[0]) => (signed++, ca.createCrl(req)) };
    // A clock that stands still: each signing then takes exactly the next number.
    const t0 = Date.now();
    const caches = nodes.map((n) => new CrlCache(countingCa, n, () => t0));

    const first = await Promise.all(caches.map((c) => c.current()));
    expect(signed).toBe(1);
    for (const der of first) expect(der).toEqual(first[0]!);

    expect(await nodes[1]!.revokeSerial("b2", Date.now())).toBe(true);
    const second = await Promise.all(caches.map((c) => c.current()));
    expect(signed).toBe(2);
    for (const der of second) expect(der).toEqual(second[0]!);
    expect(crlNumber(second[0]!)).toBe(crlNumber(first[0]!) + 1);
    expect([...(await verifyCrl(second[0]!, ca.certDer)).revokedSerials]).toEqual(["b2"]);
    expect(opensslCrlText(second[0]!)).toMatch(/Serial Number: B2/i);

    // A node restarted (a new handle, a new cache) serves the stored CRL without signing.
    await nodes[2]!.close();
    nodes[2] = await PostgresStore.open(url, { max: 2, schema });
    expect(await new CrlCache(countingCa, nodes[2]!, () => t0).current()).toEqual(second[0]!);
    expect(signed).toBe(2);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
});
