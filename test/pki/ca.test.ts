/** CA issuance judged by OpenSSL: root, user, server and storage certificates. */
import { describe, expect, test } from "bun:test";
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { createKeyAndCsr } from "../../src/pki/client-key.ts";
import { toPem } from "../../src/pki/pem.ts";
import { certInfo } from "../../src/pki/verify.ts";
import { failsWithCode, openssl, opensslCsr, sharedCa, tempDir } from "./helpers.ts";

describe("createCa()", () => {
  test("makes a self-signed root that openssl accepts as a CA with pathlen 0 and keyCertSign, cRLSign", async () => {
    const { files } = await sharedCa();
    using dir = tempDir();
    const ca = dir.write("ca.pem", files.certPem);
    expect(openssl(["verify", "-CAfile", ca, ca])).toMatchObject({ code: 0 });
    const text = openssl(["x509", "-in", ca, "-noout", "-text"]).stdout;
    expect(text).toContain("Subject: CN = sis CA test");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain("Subject Key Identifier");
    expect(text).toContain("Public-Key: (3072 bit)");
    expect(text).toContain("sha256WithRSAEncryption");
  });

  test("writes the key as unencrypted PKCS#8 that openssl reads", async () => {
    const { files } = await sharedCa();
    expect(files.keyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    const r = openssl(["pkey", "-noout", "-text"], { stdin: files.keyPem });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Private-Key: (3072 bit");
  });

  test("gives each CA a random default name", async () => {
    const a = await CertificateAuthority.load(await createCa({ lifetimeDays: 1 }));
    expect(certInfo(a.certDer).subjectCn).toMatch(/^sis CA [0-9a-f]{8}$/);
  });
});

describe("CertificateAuthority.load()", () => {
  test("refuses a private key that does not belong to the CA certificate", async () => {
    const { files } = await sharedCa();
    const other = await createCa({ lifetimeDays: 1 });
    await failsWithCode(() => CertificateAuthority.load({ certPem: files.certPem, keyPem: other.keyPem }), "BAD_CERT");
  });

  test("exposes the CA fingerprint exactly as openssl prints it", async () => {
    const { ca } = await sharedCa();
    const out = openssl(["x509", "-noout", "-fingerprint", "-sha256"], { stdin: ca.certPem }).stdout.trim();
    expect(out.replace(/^sha256 Fingerprint=/i, "")).toBe(ca.fingerprint);
  });
});

describe("issueUserCert()", () => {
  test("issues a certificate that openssl verify accepts against the CA", async () => {
    const { ca, files } = await sharedCa();
    const issued = await ca.issueUserCert({ csrDer: opensslCsr("/CN=alice"), username: "alice" });
    using dir = tempDir();
    const r = openssl(["verify", "-CAfile", dir.write("ca.pem", files.certPem), dir.write("user.pem", issued.pem)]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain("user.pem: OK");
  });

  test("applies the user profile: key usage, client and e-mail EKU, CN, SKI and AKI", async () => {
    const { ca } = await sharedCa();
    const issued = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
    const text = openssl(["x509", "-noout", "-text"], { stdin: issued.pem }).stdout;
    expect(text).toContain("Subject: CN = alice");
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(text).toMatch(/Extended Key Usage: \s*\n\s+TLS Web Client Authentication, E-mail Protection/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    expect(text).toContain("X509v3 Authority Key Identifier");
    expect(text).toContain("Version: 3 (0x2)");
  });

  test("ignores the CSR's subject: a request for CN=mallory issued to alice names alice only", async () => {
    const { ca } = await sharedCa();
    const issued = await ca.issueUserCert({ csrDer: opensslCsr("/CN=mallory/O=evil"), username: "alice" });
    const subject = openssl(["x509", "-noout", "-subject"], { stdin: issued.pem }).stdout.trim();
    expect(subject).toBe("subject=CN = alice");
  });

  test("ignores extensions requested in the CSR (no CA:TRUE smuggled in)", async () => {
    const { ca } = await sharedCa();
    using dir = tempDir();
    const csrPem = openssl([
      "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir.path}/k.pem`, "-subj", "/CN=x",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "subjectAltName=DNS:evil.example",
    ]).stdout;
    const csrDer = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const issued = await ca.issueUserCert({ csrDer, username: "alice" });
    const text = openssl(["x509", "-noout", "-text"], { stdin: issued.pem }).stdout;
    expect(text).toMatch(/CA:FALSE/);
    expect(text).not.toContain("evil.example");
  });

  test("gives random positive 16-byte serials that openssl reads the same way", async () => {
    const { ca } = await sharedCa();
    const csrDer = opensslCsr();
    const serials = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const issued = await ca.issueUserCert({ csrDer, username: "alice" });
      const fromOpenssl = openssl(["x509", "-noout", "-serial"], { stdin: issued.pem }).stdout.trim();
      expect(fromOpenssl).toBe(`serial=${issued.serial.toUpperCase()}`);
      expect(issued.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
      expect(issued.serial.startsWith("00")).toBe(false);
      serials.add(issued.serial);
    }
    expect(serials.size).toBe(4);
  });

  test("backdates notBefore a few minutes and honours lifetimeDays", async () => {
    const { ca } = await sharedCa();
    const now = new Date("2030-06-01T12:00:00Z");
    const issued = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice", lifetimeDays: 30, now });
    expect(issued.notBefore).toBe(now.getTime() - 5 * 60 * 1000);
    expect(issued.notAfter).toBe(now.getTime() + 30 * 86_400_000);
    const dates = openssl(["x509", "-noout", "-dates"], { stdin: issued.pem }).stdout;
    expect(dates).toContain("notBefore=Jun  1 11:55:00 2030 GMT");
    expect(dates).toContain("notAfter=Jul  1 12:00:00 2030 GMT");
  });

  test("issues for a key and CSR made by createKeyAndCsr, which openssl req -verify accepts", async () => {
    const { ca, files } = await sharedCa();
    const { csrDer, privateKeyPkcs8 } = await createKeyAndCsr({ username: "bob", bits: 2048 });
    const check = openssl(["req", "-inform", "DER", "-noout", "-verify"], { stdin: csrDer });
    expect(check.stderr + check.stdout).toContain("verify OK");
    expect(openssl(["pkey", "-inform", "DER", "-noout"], { stdin: privateKeyPkcs8 }).code).toBe(0);
    const issued = await ca.issueUserCert({ csrDer, username: "bob" });
    using dir = tempDir();
    expect(openssl(["verify", "-CAfile", dir.write("ca.pem", files.certPem), dir.write("bob.pem", issued.pem)]).code).toBe(0);
  });

  test("refuses a username that cannot be a certificate name", async () => {
    const { ca } = await sharedCa();
    const csrDer = opensslCsr();
    await failsWithCode(() => ca.issueUserCert({ csrDer, username: "" }), "BAD_CSR");
    await failsWithCode(() => ca.issueUserCert({ csrDer, username: "a\nb" }), "BAD_CSR");
    await failsWithCode(() => ca.issueUserCert({ csrDer, username: "x".repeat(65) }), "BAD_CSR");
  });
});

describe("issueServerCert()", () => {
  test("passes openssl verify -purpose sslserver and names localhost, 127.0.0.1 and the extra hosts", async () => {
    const { ca, files } = await sharedCa();
    const server = await ca.issueServerCert({ hosts: ["sis.example", "10.1.2.3", "::1"] });
    using dir = tempDir();
    const cert = dir.write("server.pem", server.certPem);
    expect(openssl(["verify", "-purpose", "sslserver", "-CAfile", dir.write("ca.pem", files.certPem), cert]).code).toBe(0);
    const san = openssl(["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]).stdout;
    for (const name of ["DNS:localhost", "IP Address:127.0.0.1", "DNS:sis.example", "IP Address:10.1.2.3", "IP Address:0:0:0:0:0:0:0:1"]) {
      expect(san).toContain(name);
    }
    const text = openssl(["x509", "-in", cert, "-noout", "-text"]).stdout;
    expect(text).toMatch(/Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/);
    // P29a: a P-256 key that only signs (TLS 1.3), so no keyEncipherment (RFC 5480 section 3).
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toContain("Public-Key: (256 bit)");
    expect(text).toContain("ASN1 OID: prime256v1");
    const key = openssl(["pkey", "-noout", "-text"], { stdin: server.keyPem });
    expect(key.code).toBe(0);
    expect(key.stdout).toContain("ASN1 OID: prime256v1");
  });

  test("keyType rsa issues the RSA 3072 certificate of data directories made before P-256, which still verifies", async () => {
    const { ca, files } = await sharedCa();
    const server = await ca.issueServerCert({ hosts: [], keyType: "rsa" });
    using dir = tempDir();
    const cert = dir.write("server.pem", server.certPem);
    expect(openssl(["verify", "-purpose", "sslserver", "-CAfile", dir.write("ca.pem", files.certPem), cert]).code).toBe(0);
    const text = openssl(["x509", "-in", cert, "-noout", "-text"]).stdout;
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toContain("Public-Key: (3072 bit)");
  });

  test("refuses a host that is neither a DNS name nor an IP address", async () => {
    const { ca } = await sharedCa();
    await expect(ca.issueServerCert({ hosts: ["bad host/name"] })).rejects.toThrow(/not a host name/);
  });
});

describe("issueStorageCert()", () => {
  /** What openssl says of a storage certificate the CA issued: verified against the CA, and its text. */
  async function judged(issue: (ca: CertificateAuthority) => Promise<{ certPem: string }>): Promise<string> {
    const { ca, files } = await sharedCa();
    using dir = tempDir();
    const cert = dir.write("storage.pem", (await issue(ca)).certPem);
    expect(openssl(["verify", "-CAfile", dir.write("ca.pem", files.certPem), cert]).code).toBe(0);
    const text = openssl(["x509", "-in", cert, "-noout", "-text"]).stdout;
    expect(text).not.toContain("Extended Key Usage");
    return text;
  }

  test("issues a key-transport certificate with keyEncipherment only", async () => {
    const text = await judged((ca) => ca.issueStorageCert());
    expect(text).toContain("Subject: CN = sis storage key");
    expect(text).toMatch(/Key Usage: critical\s+Key Encipherment\n/);
    expect(text).toContain("Public-Key: (3072 bit)");
  });

  test("issueStorageEcdhCert() issues a P-256 key-agreement certificate with keyAgreement only (ENVELOPE.md W6)", async () => {
    const text = await judged((ca) => ca.issueStorageEcdhCert());
    expect(text).toContain("Subject: CN = sis storage key agreement");
    expect(text).toMatch(/Key Usage: critical\s+Key Agreement\n/);
    expect(text).toContain("ASN1 OID: prime256v1");
  });

  test("round-trips through toPem for consumers that hold DER", async () => {
    const { ca } = await sharedCa();
    expect(toPem(ca.certDer, "CERTIFICATE")).toBe(ca.certPem);
  });
});
