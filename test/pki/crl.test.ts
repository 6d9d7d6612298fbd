/** The CA's CRL: OpenSSL reads it and honours it; verifyCrl() checks issuer, signature and freshness. */
import { describe, expect, test } from "bun:test";
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { toPem } from "../../src/pki/pem.ts";
import { verifyCrl } from "../../src/pki/verify.ts";
import { failsWithCode, openssl, opensslCsr, opensslDer, sharedCa, tempDir } from "./helpers.ts";

async function revokedAndGood() {
  const { ca, files } = await sharedCa();
  const csrDer = opensslCsr();
  const revoked = await ca.issueUserCert({ csrDer, username: "mallory" });
  const good = await ca.issueUserCert({ csrDer, username: "alice" });
  const crl = await ca.createCrl({ revoked: [{ serial: revoked.serial, revokedAt: Date.now() - 60_000 }], crlNumber: 7 });
  return { ca, files, revoked, good, crl };
}

describe("createCrl()", () => {
  test("makes openssl verify -crl_check report a revoked certificate as revoked", async () => {
    const { files, revoked, crl } = await revokedAndGood();
    using dir = tempDir();
    const r = openssl(["verify", "-crl_check", "-CRLfile", dir.write("crl.pem", toPem(crl, "X509 CRL")), "-CAfile", dir.write("ca.pem", files.certPem), dir.write("user.pem", revoked.pem)]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("certificate revoked");
  });

  test("lets openssl verify -crl_check pass a certificate that is not on the CRL", async () => {
    const { files, good, crl } = await revokedAndGood();
    using dir = tempDir();
    const r = openssl(["verify", "-crl_check", "-CRLfile", dir.write("crl.pem", toPem(crl, "X509 CRL")), "-CAfile", dir.write("ca.pem", files.certPem), dir.write("user.pem", good.pem)]);
    expect(r).toMatchObject({ code: 0 });
  });

  test("is a v2 CRL that openssl crl parses, with CRL number, AKI and next update", async () => {
    const { revoked, crl } = await revokedAndGood();
    const r = openssl(["crl", "-noout", "-text"], { stdin: toPem(crl, "X509 CRL") });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Version 2 (0x1)");
    expect(r.stdout).toMatch(/X509v3 CRL Number: \s*\n\s+7\n/);
    expect(r.stdout).toContain("X509v3 Authority Key Identifier");
    expect(r.stdout).toContain("Next Update:");
    expect(r.stdout).toContain(`Serial Number: ${revoked.serial.toUpperCase()}`);
  });

  test("is PEM-labelled X509 CRL, which openssl requires", async () => {
    const { crl } = await revokedAndGood();
    expect(toPem(crl, "X509 CRL")).toStartWith("-----BEGIN X509 CRL-----\n");
  });

  test("writes an empty CRL that still verifies", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({ revoked: [], crlNumber: 0 });
    const v = await verifyCrl(crl, ca.certDer);
    expect(v.revokedSerials.size).toBe(0);
  });
});

describe("verifyCrl()", () => {
  test("returns the revoked serials normalised, and the update times", async () => {
    const { ca, revoked } = await revokedAndGood();
    const now = new Date();
    const crl = await ca.createCrl({ revoked: [{ serial: revoked.serial.toUpperCase().match(/../g)!.join(":"), revokedAt: 0 }], crlNumber: 1, now, nextUpdateSeconds: 3600 });
    const v = await verifyCrl(crl, ca.certDer, now);
    expect([...v.revokedSerials]).toEqual([revoked.serial]);
    expect(v.nextUpdate - v.thisUpdate).toBe(3_600_000);
  });

  test("refuses a stale CRL instead of treating it as empty", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({ revoked: [], crlNumber: 2, nextUpdateSeconds: 60 });
    await failsWithCode(() => verifyCrl(crl, ca.certDer, new Date(Date.now() + 120_000)), "STALE_CRL");
  });

  test("refuses a CRL dated in the future", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({ revoked: [], crlNumber: 3, now: new Date(Date.now() + 3_600_000) });
    await failsWithCode(() => verifyCrl(crl, ca.certDer), "BAD_CRL");
  });

  test("refuses a CRL from an impostor CA with the same name but another key", async () => {
    const { ca } = await sharedCa();
    const impostor = await CertificateAuthority.load(await createCa({ commonName: "sis CA test", lifetimeDays: 1 }));
    const crl = await impostor.createCrl({ revoked: [], crlNumber: 1 });
    await failsWithCode(() => verifyCrl(crl, ca.certDer), "BAD_CRL");
  });

  test("refuses a CRL issued by another CA and garbage bytes", async () => {
    const { ca } = await sharedCa();
    const other = await CertificateAuthority.load(await createCa({ commonName: "another CA", lifetimeDays: 1 }));
    await failsWithCode(async () => verifyCrl(await other.createCrl({ revoked: [], crlNumber: 1 }), ca.certDer), "BAD_CRL");
    await failsWithCode(() => verifyCrl(crypto.getRandomValues(new Uint8Array(300)), ca.certDer), "BAD_CRL");
  });

  test("reads a CRL that openssl ca made with the sis CA key", async () => {
    const { ca, files } = await sharedCa();
    using dir = tempDir();
    const serial = "0123456789ABCDEF";
    dir.write("index.txt", `R\t301231235959Z\t240101000000Z\t${serial}\tunknown\t/CN=alice\n`);
    dir.write("crlnumber", "1000\n");
    dir.write("ca.cnf", "[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=1\n");
    const r = openssl(["ca", "-config", "ca.cnf", "-gencrl", "-cert", dir.write("ca.pem", files.certPem), "-keyfile", dir.write("ca.key", files.keyPem), "-out", "crl.pem"], { cwd: dir.path });
    expect(r.code).toBe(0);
    const der = opensslDer(["crl", "-in", `${dir.path}/crl.pem`, "-outform", "DER"]);
    const v = await verifyCrl(der, ca.certDer);
    expect(v.revokedSerials.has("0123456789abcdef")).toBe(true);
  });
});
