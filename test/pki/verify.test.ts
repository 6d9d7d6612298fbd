/** verifyUserCert(): each way another user's certificate can fail, with sis-made and OpenSSL-made certificates. */
import { describe, expect, test } from "bun:test";
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { fromPem } from "../../src/pki/pem.ts";
import { certInfo, verifyUserCert } from "../../src/pki/verify.ts";
import { CERTS_DIR, failsWithCode, fixture, openssl, opensslCsr, sharedCa } from "./helpers.ts";

const certFixture = (name: string) => fromPem(fixture(name), "CERTIFICATE");

async function aliceCert() {
  const { ca } = await sharedCa();
  const issued = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
  return { ca, issued };
}

describe("verifyUserCert()", () => {
  test("accepts a current certificate from the pinned CA and names its owner", async () => {
    const { ca, issued } = await aliceCert();
    const crlDer = await ca.createCrl({ revoked: [], crlNumber: 1 });
    const v = await verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, crlDer, expectedUser: "alice" });
    expect(v).toEqual({ username: "alice", serial: issued.serial, notAfter: issued.notAfter });
  });

  test("refuses a leaf issued by a foreign CA as untrusted", async () => {
    const { ca } = await sharedCa();
    await failsWithCode(() => verifyUserCert({ certDer: certFixture("foreign-alice.pem"), caCertDer: ca.certDer }), "UNTRUSTED");
  });

  test("refuses a leaf from an impostor CA with the pinned CA's name but another key", async () => {
    const { ca } = await sharedCa();
    const impostor = await CertificateAuthority.load(await createCa({ commonName: "sis CA test", lifetimeDays: 1 }));
    const forged = await impostor.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
    await failsWithCode(() => verifyUserCert({ certDer: forged.der, caCertDer: ca.certDer }), "UNTRUSTED");
  });

  test("refuses the expired fixture as expired when its own CA is the anchor", async () => {
    const caCertDer = certFixture("expired-ca.pem");
    const certDer = certFixture("expired.pem");
    // Sanity: the fixture is otherwise good — only the date is wrong.
    await verifyUserCert({ certDer, caCertDer, now: new Date("2020-06-01T00:00:00Z") });
    await failsWithCode(() => verifyUserCert({ certDer, caCertDer }), "EXPIRED");
    const judge = openssl(["verify", "-CAfile", `${CERTS_DIR}/expired-ca.pem`, `${CERTS_DIR}/expired.pem`]);
    expect(judge.code).not.toBe(0);
    expect(judge.stdout + judge.stderr).toContain("certificate has expired");
  });

  test("accepts the foreign leaf against its own CA (OpenSSL-made certificates are read correctly)", async () => {
    const v = await verifyUserCert({ certDer: certFixture("foreign-alice.pem"), caCertDer: certFixture("foreign-ca.pem"), expectedUser: "alice" });
    expect(v.username).toBe("alice");
  });

  test("refuses a certificate before its notBefore as not yet valid", async () => {
    const { ca, issued } = await aliceCert();
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, now: new Date(issued.notBefore - 1000) }), "NOT_YET_VALID");
  });

  test("refuses a certificate listed on the CRL as revoked", async () => {
    const { ca, issued } = await aliceCert();
    const crlDer = await ca.createCrl({ revoked: [{ serial: issued.serial, revokedAt: Date.now() }], crlNumber: 2 });
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, crlDer }), "REVOKED");
  });

  test("refuses when the certificate names someone other than the expected owner", async () => {
    const { ca, issued } = await aliceCert();
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, expectedUser: "bob" }), "WRONG_OWNER");
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, expectedUser: "Alice" }), "WRONG_OWNER");
  });

  test("refuses to judge against a stale CRL", async () => {
    const { ca, issued } = await aliceCert();
    const crlDer = await ca.createCrl({ revoked: [], crlNumber: 3, now: new Date(Date.now() - 2 * 86_400_000), nextUpdateSeconds: 86_400 });
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, crlDer }), "STALE_CRL");
  });

  test("refuses a CRL that the pinned CA did not sign", async () => {
    const { ca, issued } = await aliceCert();
    const other = await CertificateAuthority.load(await createCa({ commonName: "sis CA test", lifetimeDays: 1 }));
    const crlDer = await other.createCrl({ revoked: [], crlNumber: 1 });
    await failsWithCode(() => verifyUserCert({ certDer: issued.der, caCertDer: ca.certDer, crlDer }), "BAD_CRL");
  });

  test("refuses the server, storage and CA certificates as not user certificates", async () => {
    const { ca } = await sharedCa();
    const server = fromPem((await ca.issueServerCert({ hosts: [] })).certPem, "CERTIFICATE");
    const storage = fromPem((await ca.issueStorageCert()).certPem, "CERTIFICATE");
    await failsWithCode(() => verifyUserCert({ certDer: server, caCertDer: ca.certDer }), "BAD_USAGE");
    await failsWithCode(() => verifyUserCert({ certDer: storage, caCertDer: ca.certDer }), "BAD_USAGE");
    await failsWithCode(() => verifyUserCert({ certDer: ca.certDer, caCertDer: ca.certDer }), "BAD_USAGE");
  });

  test("refuses to use a user certificate as the trust anchor", async () => {
    const { ca } = await sharedCa();
    const alice = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
    await failsWithCode(() => verifyUserCert({ certDer: alice.der, caCertDer: alice.der }), "UNTRUSTED");
  });

  test("refuses garbage and oversized certificates before trusting anything", async () => {
    const { ca } = await sharedCa();
    await failsWithCode(() => verifyUserCert({ certDer: crypto.getRandomValues(new Uint8Array(800)), caCertDer: ca.certDer }), "BAD_CERT");
    await failsWithCode(() => verifyUserCert({ certDer: new Uint8Array(1024 * 1024), caCertDer: ca.certDer }), "BAD_CERT");
  });
});

describe("certInfo()", () => {
  test("reports what openssl reports for an OpenSSL-made certificate", () => {
    const pem = fixture("foreign-alice.pem");
    const info = certInfo(fromPem(pem, "CERTIFICATE"));
    const serial = openssl(["x509", "-noout", "-serial"], { stdin: pem }).stdout.trim().replace("serial=", "");
    expect(info.subjectCn).toBe("alice");
    expect(info.subject).toBe("CN=alice");
    expect(info.issuer).toBe("CN=foreign CA");
    expect(info.serial).toBe(serial.toLowerCase().replace(/^(00)+/, ""));
    const end = openssl(["x509", "-noout", "-enddate"], { stdin: pem }).stdout.trim().replace("notAfter=", "");
    expect(info.notAfter).toBe(new Date(end).getTime());
    expect(info.notBefore).toBeLessThan(info.notAfter);
  });

  test("throws BAD_CERT for bytes that are not a certificate", async () => {
    await failsWithCode(() => certInfo(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), "BAD_CERT");
  });
});
