/**
 * The server's TLS key (PROTOCOL.md P29a): a new data directory gets a P-256 key, and the RSA
 * key of a data directory made before is kept and still serves. Judged by `openssl s_client`
 * (which signature the server's handshake carries, and that its certificate verifies) and by
 * the real client (`sis register`, `sis whoami`), with the compiled binary.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../../src/pki/index.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { expectRun, openssl } from "../support/auth-kit.ts";
import { register, sis, startServe, type ServerProcess } from "../support/cli.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(90_000);

const dir = mkdtempSync(join(tmpdir(), "sis-e2e-tls-keys-"));
const data = join(dir, "data");
let server: ServerProcess | null = null;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What `openssl s_client` says of a handshake with the server: verified against the data directory's CA, as `localhost`. */
async function handshake(s: ServerProcess): Promise<string> {
  const r = await openssl(["s_client", "-connect", s.address, "-CAfile", join(data, DATA_FILES.caCert), "-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error", "-brief"], { stdin: "" });
  expect(r.code).toBe(0);
  return r.stdout + r.stderr;
}

describe("the server's TLS key", () => {
  test("a new data directory gets a P-256 key, whose ECDSA signature openssl s_client verifies, and the client connects", async () => {
    server = await startServe(data);
    const key = await openssl(["pkey", "-noout", "-text"], { stdin: readFileSync(join(data, DATA_FILES.tlsKey)) });
    expect(key.code).toBe(0);
    expect(key.stdout).toContain("ASN1 OID: prime256v1");
    const said = await handshake(server);
    expect(said).toContain("Verification: OK");
    expect(said).toMatch(/Protocol version: TLSv1\.3/);
    expect(said).toMatch(/\nSignature type: ECDSA\n/);
    expectRun(await register(server, "alice", join(dir, "alice")), { code: 0 });
  });

  test("the RSA key of a data directory made before P-256 is kept at start and still serves", async () => {
    await server!.stop();
    server = null;
    const ca = await CertificateAuthority.load({ certPem: readFileSync(join(data, DATA_FILES.caCert), "utf8"), keyPem: readFileSync(join(data, DATA_FILES.caKey), "utf8") });
    const old = await ca.issueServerCert({ hosts: [], keyType: "rsa" });
    writeFileSync(join(data, DATA_FILES.tlsCert), old.certPem);
    writeFileSync(join(data, DATA_FILES.tlsKey), old.keyPem, { mode: 0o600 });
    server = await startServe(data);
    expect(readFileSync(join(data, DATA_FILES.tlsKey), "utf8")).toBe(old.keyPem);
    const said = await handshake(server);
    expect(said).toContain("Verification: OK");
    expect(said).toMatch(/\nSignature type: RSA-PSS\n/);
    // The real client checks the certificate as P29 says, against the CA it pinned at registration.
    expectRun(await register(server, "bob", join(dir, "bob")), { code: 0 });
    const whoami = await sis(["whoami", "--home", join(dir, "bob")]);
    expectRun(whoami, { code: 0, stderr: "", stdout: /^user +bob\n/ });
    expect(whoami.stdout).toMatch(/\nstorage +0 B in 0 images/);
  });
});
