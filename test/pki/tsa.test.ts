/** The time-stamping authority (ENVELOPE.md G9, G10, V11): its certificate and tokens, with OpenSSL as the judge. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { importSigningKey } from "../../src/pki/keys.ts";
import { parseCert } from "../../src/pki/parse.ts";
import { fromPem, toPem } from "../../src/pki/pem.ts";
import { createTimeStampToken, sha256, TimeStampAuthority } from "../../src/pki/tsa-token.ts";
import { SIS_TSA_POLICY_OID } from "../../src/pki/tsa-oids.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { verifyUserCert } from "../../src/pki/verify.ts";
import { failsWithCode, openssl, sharedCa, tempDir } from "./helpers.ts";
import { foreignTsa, sharedTsa, signatureValue, userWithKey } from "./tsa-fixtures.ts";

const DAY = 86_400_000;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Writes the files `openssl ts -verify` needs and runs it on `token` against the suite CA. */
async function opensslTsVerify(token: Uint8Array, data: Uint8Array, tsaPem?: string) {
  const { files } = await sharedCa();
  using dir = tempDir();
  const args = ["ts", "-verify", "-data", dir.write("sig.bin", data), "-in", dir.write("token.der", token), "-token_in", "-CAfile", dir.write("ca.pem", files.certPem)];
  if (tsaPem) args.push("-untrusted", dir.write("tsa.pem", tsaPem));
  return openssl(args);
}

describe("issueTsaCert() (G10)", () => {
  test("writes the RFC 3161 profile: timeStamping EKU critical, digitalSignature and nonRepudiation, not a CA; openssl verify -purpose timestampsign accepts it", async () => {
    const { files } = await sharedCa();
    const tsa = await sharedTsa();
    const text = openssl(["x509", "-noout", "-text"], { stdin: tsa.certPem }).stdout;
    expect(text).toMatch(/X509v3 Extended Key Usage: critical\s*\n\s*Time Stamping\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature, Non Repudiation\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
    using dir = tempDir();
    const r = openssl(["verify", "-purpose", "timestampsign", "-CAfile", dir.write("ca.pem", files.certPem), dir.write("tsa.pem", tsa.certPem)]);
    expect(r).toMatchObject({ code: 0 });
  });

  test("lasts five years, or only as long as the CA when that is sooner", async () => {
    const tsa = parseCert((await sharedTsa()).certDer);
    expect(Math.round((tsa.notAfter.getTime() - tsa.notBefore.getTime()) / DAY)).toBe(1826);
    const shortCa = await CertificateAuthority.load(await createCa({ commonName: "short CA", lifetimeDays: 100 }));
    const short = parseCert(fromPem((await shortCa.issueTsaCert()).certPem, "CERTIFICATE"));
    expect(short.notAfter.getTime()).toBeLessThanOrEqual(parseCert(shortCa.certDer).notAfter.getTime());
    expect(short.notAfter.getTime() - Date.now()).toBeGreaterThan(98 * DAY);
  });

  test("is refused as a user certificate: it cannot sign images (V8)", async () => {
    const { ca } = await sharedCa();
    await failsWithCode(async () => verifyUserCert({ certDer: (await sharedTsa()).certDer, caCertDer: ca.certDer }), "BAD_USAGE");
  });

  test("TimeStampAuthority.load refuses a key that is not the certificate's, and a certificate that is not a TSA's", async () => {
    const tsa = await sharedTsa();
    const { tsa: other } = await foreignTsa();
    await failsWithCode(() => TimeStampAuthority.load({ certPem: tsa.certPem, keyPem: other.keyPem }), "BAD_CERT");
    const user = await userWithKey("carol");
    await failsWithCode(() => TimeStampAuthority.load({ certPem: user.issued.pem, keyPem: toPem(user.privateKeyPkcs8, "PRIVATE KEY") }), "BAD_CERT");
  });
});

describe("createTimeStampToken() (G9), judged by openssl ts", () => {
  test("openssl ts -verify accepts the token with -data (the signature value) and with -digest", async () => {
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig);
    const r = await opensslTsVerify(token.der, sig, tsa.certPem);
    expect(r.stdout).toContain("Verification: OK");
    expect(r.code).toBe(0);
    const { files } = await sharedCa();
    using dir = tempDir();
    const d = openssl(["ts", "-verify", "-digest", hex(await sha256(sig)), "-in", dir.write("t.der", token.der), "-token_in", "-CAfile", dir.write("ca.pem", files.certPem)]);
    expect(d.stdout).toContain("Verification: OK");
  });

  test("openssl ts -reply -text shows the time, the sis policy, the serial and the SHA-256 imprint", async () => {
    const tsa = await sharedTsa();
    const genTime = new Date("2026-03-04T05:06:07.890Z");
    const token = await tsa.tsa.stampSignature(signatureValue(), { genTime, serial: "0abc" });
    using dir = tempDir();
    const r = openssl(["ts", "-reply", "-in", dir.write("t.der", token.der), "-token_in", "-token_out", "-text"]);
    expect(r.stdout).toContain("Time stamp: Mar  4 05:06:07 2026 GMT");
    expect(r.stdout).toContain(`Policy OID: ${SIS_TSA_POLICY_OID}`);
    expect(r.stdout).toContain("Serial number: 0x0ABC");
    expect(r.stdout).toContain("Hash Algorithm: sha256");
    expect(token.genTime.toISOString()).toBe("2026-03-04T05:06:07.000Z");
  });

  test("the signed attributes are contentType, messageDigest and signingCertificateV2 (RFC 5816), and the TSA certificate is included", async () => {
    const tsa = await sharedTsa();
    const token = await tsa.tsa.stampSignature(signatureValue());
    using dir = tempDir();
    const r = openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", dir.write("t.der", token.der)]);
    for (const s of ["id-smime-ct-TSTInfo", "contentType", "messageDigest", "id-smime-aa-signingCertificateV2", "sis time-stamping authority"]) expect(r.stdout).toContain(s);
  });

  test("verifyTimeStampToken() accepts it and returns its genTime, serial and policy", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig, { genTime: new Date(Date.now() - 60_000) });
    const v = await verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer, crlDer: await ca.createCrl({ revoked: [], crlNumber: 1 }) });
    expect(v).toMatchObject({ genTime: token.genTime, serial: token.serial, policy: SIS_TSA_POLICY_OID, tsaSerial: parseCert(tsa.certDer).serialNumber.toLowerCase() });
    expect(hex(v.tsaCertDer)).toBe(hex(tsa.certDer));
  });

  test("verifyTimeStampToken() accepts a token openssl ts -reply made with the sis TSA key (outside producer)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    using dir = tempDir();
    dir.write("serial", "2a\n");
    dir.write("tsa.cnf", ["[tsa]", "default_tsa = t", "[t]", `serial = ${dir.path}/serial`, "signer_digest = sha256", `default_policy = ${SIS_TSA_POLICY_OID}`,
      "digests = sha256", "ess_cert_id_alg = sha256", "ess_cert_id_chain = no", "accuracy = secs:1", ""].join("\n"));
    expect(openssl(["ts", "-query", "-digest", hex(await sha256(sig)), "-sha256", "-no_nonce", "-cert", "-out", join(dir.path, "q.tsq")]).code).toBe(0);
    const r = openssl(["ts", "-reply", "-config", join(dir.path, "tsa.cnf"), "-queryfile", join(dir.path, "q.tsq"), "-signer", dir.write("tsa.pem", tsa.certPem),
      "-inkey", dir.write("tsa.key", tsa.keyPem), "-token_out", "-out", join(dir.path, "t.der")]);
    expect(r.stderr).toContain("Response has been generated");
    const tokenDer = new Uint8Array(readFileSync(join(dir.path, "t.der")));
    const v = await verifyTimeStampToken({ tokenDer, signatureValue: sig, caCertDer: ca.certDer });
    expect(v.serial).toBe("2b"); // openssl ts increments the serial file before use
  });
});

describe("verifyTimeStampToken() refuses forged and swapped tokens, each with its own code (V11)", () => {
  test("a token for another image's signature: TIMESTAMP_IMPRINT_MISMATCH (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const token = await tsa.tsa.stampSignature(signatureValue());
    const other = signatureValue();
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: token.der, signatureValue: other, caCertDer: ca.certDer }), "TIMESTAMP_IMPRINT_MISMATCH");
    expect((await opensslTsVerify(token.der, other, tsa.certPem)).code).not.toBe(0);
  });

  test("a token signed with another key under the real TSA certificate: TIMESTAMP_BAD_SIGNATURE (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const { tsa: other } = await foreignTsa();
    const sig = signatureValue();
    const forged = await createTimeStampToken({ tsaCertDer: tsa.certDer, tsaKey: other.key, digest: await sha256(sig) });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: forged.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_BAD_SIGNATURE");
    expect((await opensslTsVerify(forged.der, sig, tsa.certPem)).code).not.toBe(0);
  });

  test("a token from a TSA of another CA: TIMESTAMP_UNTRUSTED (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const { tsa: other } = await foreignTsa();
    const sig = signatureValue();
    const token = await other.tsa.stampSignature(sig);
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_UNTRUSTED");
    expect((await opensslTsVerify(token.der, sig, other.certPem)).code).not.toBe(0);
  });

  test("a token signed by a user certificate of the pinned CA: TIMESTAMP_NOT_TSA (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const mallory = await userWithKey("mallory");
    const sig = signatureValue();
    const token = await createTimeStampToken({ tsaCertDer: mallory.issued.der, tsaKey: await importSigningKey(mallory.privateKeyPkcs8), digest: await sha256(sig) });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_NOT_TSA");
    const judge = await opensslTsVerify(token.der, sig, mallory.issued.pem);
    expect(judge.code).not.toBe(0);
    expect(judge.stdout + judge.stderr).toContain("unsuitable certificate purpose");
  });

  test("a token whose TSTInfo was edited after signing (genTime moved): TIMESTAMP_BAD_SIGNATURE (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig, { genTime: new Date("2026-01-02T03:04:05Z") });
    const tampered = Buffer.from(token.der);
    const at = tampered.indexOf("20260102030405Z");
    expect(at).toBeGreaterThan(0);
    tampered.write("20250102030405Z", at); // a year earlier: before a revocation, say
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: tampered, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_BAD_SIGNATURE");
    expect((await opensslTsVerify(tampered, sig, tsa.certPem)).code).not.toBe(0);
  });

  test("garbage, a truncated token, an image signature and an oversized blob: TIMESTAMP_MALFORMED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig);
    for (const tokenDer of [crypto.getRandomValues(new Uint8Array(500)), token.der.subarray(0, token.der.length - 1), new Uint8Array(9000), ca.certDer]) {
      await failsWithCode(() => verifyTimeStampToken({ tokenDer, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
    }
  });

  test("a token under another policy: TIMESTAMP_MALFORMED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const token = await createTimeStampToken({ tsaCertDer: tsa.certDer, tsaKey: tsa.key, digest: await sha256(sig), policy: "1.2.3.4" });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
  });

  test("a token dated in the future, or outside its TSA certificate's life: TIMESTAMP_UNTRUSTED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    for (const genTime of [new Date(Date.now() + 3_600_000), new Date(parseCert(tsa.certDer).notBefore.getTime() - DAY)]) {
      const token = await tsa.tsa.stampSignature(sig, { genTime });
      await failsWithCode(() => verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_UNTRUSTED");
    }
  });

  test("a token from a revoked TSA: stamped after a plain revocation, or any token after a key compromise: TIMESTAMP_REVOKED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const serial = parseCert(tsa.certDer).serialNumber;
    const sig = signatureValue();
    const before = await tsa.tsa.stampSignature(sig, { genTime: new Date(Date.now() - 2 * 60_000) });
    const after = await tsa.tsa.stampSignature(sig);
    // One instant for both dates: two Date.now() calls can differ by a millisecond, and an
    // invalidity date later than the revocation is refused by buildCrl.
    const revokedAt = Date.now() - 60_000;
    const retired = await ca.createCrl({ revoked: [{ serial, revokedAt, reason: "superseded" }], crlNumber: 5 });
    const stolen = await ca.createCrl({ revoked: [{ serial, revokedAt, reason: "keyCompromise", invalidityDate: revokedAt }], crlNumber: 6 });
    const v = await verifyTimeStampToken({ tokenDer: before.der, signatureValue: sig, caCertDer: ca.certDer, crlDer: retired });
    expect(v.genTime).toEqual(before.genTime);
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: after.der, signatureValue: sig, caCertDer: ca.certDer, crlDer: retired }), "TIMESTAMP_REVOKED");
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: before.der, signatureValue: sig, caCertDer: ca.certDer, crlDer: stolen }), "TIMESTAMP_REVOKED");
  });
});
