/**
 * The TSA's key types (ENVELOPE.md G9, G10, V11): new TSA certificates have an ECDSA P-256 key,
 * the RSA 3072 ones of older data directories keep loading and stamping, and the tokens of
 * both verify with sis and with openssl ts; a signature of the wrong form or key is refused.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCertificate } from "../../src/crypto/certificate-info.ts";
import { DerError } from "../../src/encoding/der.ts";
import { ecdsaFromDer, ecdsaToDer } from "../../src/pki/ecdsa-der.ts";
import { createTimeStampToken, sha256 } from "../../src/pki/tsa-token.ts";
import { OIDS } from "../../src/pki/tsa-oids.ts";
import { parseToken } from "../../src/pki/tsa-parse.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { DATA_FILES, openTsa } from "../../src/server/data-dir.ts";
import { failsWithCode, openssl, sharedCa, tempDir } from "./helpers.ts";
import { sharedTsa, signatureValue, tsaOf } from "./tsa-fixtures.ts";

async function opensslAccepts(token: Uint8Array, data: Uint8Array): Promise<boolean> {
  const { files } = await sharedCa();
  using dir = tempDir();
  const r = openssl(["ts", "-verify", "-data", dir.write("sig.bin", data), "-in", dir.write("token.der", token), "-token_in", "-CAfile", dir.write("ca.pem", files.certPem)]);
  return r.code === 0 && /Verification: OK/.test(r.stdout);
}

let rsa: ReturnType<typeof tsaOf> | undefined;
/** An RSA 3072 TSA of the suite CA: what every data directory had before P-256. */
function rsaTsa() {
  rsa ??= sharedCa().then(({ ca }) => tsaOf(ca, { keyType: "rsa" }));
  return rsa;
}

describe("TSA key types (G10)", () => {
  test("a new TSA certificate has a P-256 key; its tokens are ecdsa-with-SHA256 and verify with sis and openssl ts", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    expect(readCertificate(tsa.certDer).rsa).toBe(false);
    expect(openssl(["x509", "-noout", "-text"], { stdin: tsa.certPem }).stdout).toMatch(/id-ecPublicKey[\s\S]*NIST CURVE: P-256|ASN1 OID: prime256v1/);
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig);
    expect(parseToken(token.der).signatureAlgorithm).toBe(OIDS.ecdsaWithSHA256);
    expect((await verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer })).serial).toBe(token.serial);
    expect(await opensslAccepts(token.der, sig)).toBe(true);
  });

  test("an RSA 3072 TSA (older data directories) still loads and stamps; its tokens verify with sis and openssl ts", async () => {
    const { ca } = await sharedCa();
    const tsa = await rsaTsa();
    expect(readCertificate(tsa.certDer).rsa).toBe(true);
    const sig = signatureValue();
    const token = await tsa.tsa.stampSignature(sig);
    expect(parseToken(token.der).signatureAlgorithm).toBe(OIDS.sha256WithRSAEncryption);
    expect((await verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer })).serial).toBe(token.serial);
    expect(await opensslAccepts(token.der, sig)).toBe(true);
  });

  test("a data directory with an RSA tsa.key keeps it (openTsa), and one without gets a P-256 key", async () => {
    const { ca } = await sharedCa();
    const dir = mkdtempSync(join(tmpdir(), "sis-tsa-kinds-"));
    try {
      const old = await rsaTsa();
      writeFileSync(join(dir, DATA_FILES.tsaCert), old.certPem);
      writeFileSync(join(dir, DATA_FILES.tsaKey), old.keyPem, { mode: 0o600 });
      const kept = await openTsa(dir, ca);
      expect(Buffer.from(kept.certDer).equals(Buffer.from(old.certDer))).toBe(true);
      expect(parseToken((await kept.stampSignature(signatureValue())).der).signatureAlgorithm).toBe(OIDS.sha256WithRSAEncryption);
      expect(readFileSync(join(dir, DATA_FILES.tsaKey), "utf8")).toBe(old.keyPem);
      rmSync(join(dir, DATA_FILES.tsaKey));
      rmSync(join(dir, DATA_FILES.tsaCert));
      const fresh = await openTsa(dir, ca);
      expect(readCertificate(fresh.certDer).rsa).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ECDSA time-stamp signatures are refused unless exact (V11)", () => {
  test("one changed byte of the signature: TIMESTAMP_BAD_SIGNATURE (openssl agrees)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const der = (await tsa.tsa.stampSignature(sig)).der;
    const value = parseToken(der).signature;
    const at = Buffer.from(der).indexOf(Buffer.from(value)) + value.length - 3; // inside s, whatever its length
    const bad = der.slice();
    bad[at]! ^= 0x01;
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: bad, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_BAD_SIGNATURE");
    expect(await opensslAccepts(bad, sig)).toBe(false);
  });

  test("a signature that is not a DER SEQUENCE of two INTEGERs: TIMESTAMP_MALFORMED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const der = (await tsa.tsa.stampSignature(sig)).der;
    const value = parseToken(der).signature;
    const bad = der.slice();
    bad[Buffer.from(der).indexOf(Buffer.from(value))] = 0x31; // SET for SEQUENCE: same length, the token's own DER intact
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: bad, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
  });

  test("an ECDSA signature under an RSA TSA certificate, and an RSA one under a P-256 certificate: TIMESTAMP_MALFORMED", async () => {
    const { ca } = await sharedCa();
    const [ec, rsaOne] = [await sharedTsa(), await rsaTsa()];
    const sig = signatureValue();
    const digest = await sha256(sig);
    const ecUnderRsa = await createTimeStampToken({ tsaCertDer: rsaOne.certDer, tsaKey: ec.key, digest });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: ecUnderRsa.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
    const rsaUnderEc = await createTimeStampToken({ tsaCertDer: ec.certDer, tsaKey: rsaOne.key, digest });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: rsaUnderEc.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
    // The good tokens of both after the mix-ups: the memo of imported keys is per algorithm.
    for (const t of [ec, rsaOne]) {
      const token = await t.tsa.stampSignature(sig);
      expect((await verifyTimeStampToken({ tokenDer: token.der, signatureValue: sig, caCertDer: ca.certDer })).serial).toBe(token.serial);
    }
  });

  test("ecdsaFromDer takes only the strict form: round trip, and non-minimal, negative, oversized, extra or trailing parts throw DerError", () => {
    for (let i = 0; i < 50; i++) {
      const raw = crypto.getRandomValues(new Uint8Array(64));
      if (i % 3 === 0) raw.fill(0, 0, 5); // short r
      if (i % 5 === 0) raw[32] = 0x80; // s with its top bit set
      expect(Buffer.from(ecdsaFromDer(ecdsaToDer(raw))).equals(Buffer.from(raw))).toBe(true);
    }
    const int = (...b: number[]) => [0x02, b.length, ...b];
    const seq = (...parts: number[][]) => new Uint8Array([0x30, parts.flat().length, ...parts.flat()]);
    const bads = [
      seq(int(0x00, 0x01), int(0x01)), // non-minimal
      seq(int(0x81), int(0x01)), // negative
      seq(int(...new Array(33).fill(0x7f)), int(0x01)), // larger than the curve
      seq(int(0x01)), // one INTEGER
      seq(int(0x01), int(0x01), int(0x01)), // three
      new Uint8Array([...seq(int(0x01), int(0x01)), 0x00]), // trailing byte
      seq([0x02, 0x00], int(0x01)), // empty INTEGER
    ];
    for (const bad of bads) expect(() => ecdsaFromDer(bad)).toThrow(DerError);
  });
});
