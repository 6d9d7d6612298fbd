/** The per-process memos of the verification path (V8, V11, V13): a certificate or CRL that passed once never lets a look-alike pass, nor a stale CRL, nor a revocation in a newer CRL. */
import { describe, expect, test } from "bun:test";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { verifyCrl } from "../../src/pki/crl-verify.ts";
import { parseCert } from "../../src/pki/parse.ts";
import { clearTsaCertCache, signerJudgementCount } from "../../src/pki/cert-memo.ts";
import { certInfo } from "../../src/pki/cert-info.ts";
import { fromPem } from "../../src/pki/pem.ts";
import { verifyUserCert } from "../../src/pki/verify.ts";
import { createTimeStampToken, sha256 } from "../../src/pki/tsa-token.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { failsWithCode, sharedCa } from "./helpers.ts";
import { sharedTsa, signatureValue, tsaOf, userWithKey } from "./tsa-fixtures.ts";

/** The certificate a token carries (DER). */
function carriedCert(tokenDer: Uint8Array): Uint8Array {
  const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(tokenDer)).content });
  return new Uint8Array((sd.certificates![0] as pkijs.Certificate).toSchema().toBER());
}

describe("TSA certificate memo (V11)", () => {
  test("after the real TSA's token verified (and was remembered), a look-alike TSA (same subject and CA name, another key) is TIMESTAMP_UNTRUSTED, and the real certificate with another key TIMESTAMP_BAD_SIGNATURE", async () => {
    clearTsaCertCache();
    const { ca } = await sharedCa();
    const real = await sharedTsa();
    const sig = signatureValue();
    const good = await real.tsa.stampSignature(sig);
    expect((await verifyTimeStampToken({ tokenDer: good.der, signatureValue: sig, caCertDer: ca.certDer })).tsaCertDer).toEqual(real.certDer);

    // Same CA name as the suite CA, so the look-alike's issuer and subject are byte-identical names.
    const impostorCa = await CertificateAuthority.load(await createCa({ commonName: "sis CA test" }));
    const impostor = await tsaOf(impostorCa);
    expect(parseCert(impostor.certDer).subject).toBe(parseCert(real.certDer).subject);
    expect(parseCert(impostor.certDer).issuer).toBe(parseCert(real.certDer).issuer);
    const fake = await impostor.tsa.stampSignature(sig);
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: fake.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_UNTRUSTED");

    const forged = await createTimeStampToken({ tsaCertDer: real.certDer, tsaKey: impostor.key, digest: await sha256(sig) });
    await failsWithCode(() => verifyTimeStampToken({ tokenDer: forged.der, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_BAD_SIGNATURE");
    // And the real one still verifies: the failures were not remembered either.
    expect((await verifyTimeStampToken({ tokenDer: good.der, signatureValue: sig, caCertDer: ca.certDer })).genTime).toEqual(good.genTime);
  });

  test("the server's memo of its TSA certificate: stamping with a second TSA after a first carries the second's certificate and ESSCertIDv2", async () => {
    const { ca } = await sharedCa();
    const first = await sharedTsa();
    const second = await tsaOf(ca);
    const sig = signatureValue();
    const a = await first.tsa.stampSignature(sig);
    const b = await second.tsa.stampSignature(sig);
    expect(carriedCert(a.der)).toEqual(first.certDer);
    expect(carriedCert(b.der)).toEqual(second.certDer);
    expect((await verifyTimeStampToken({ tokenDer: b.der, signatureValue: sig, caCertDer: ca.certDer })).tsaCertDer).toEqual(second.certDer);
    // The ESSCertIDv2 certHash names the second certificate (verify checks it, and asserts here by hand too).
    const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(b.der)).content });
    const ess = sd.signerInfos[0]!.signedAttrs!.attributes.find((x) => x.type === "1.2.840.113549.1.9.16.2.47")!.values[0] as asn1js.Sequence;
    const certHash = (((ess.valueBlock.value[0] as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence).valueBlock.value[0] as asn1js.OctetString).valueBlock.valueHexView;
    expect(Buffer.from(certHash)).toEqual(Buffer.from(await sha256(second.certDer)));
  });
});

describe("CRL memo (V13)", () => {
  test("a CRL remembered as verified is still judged fresh or STALE_CRL at each call, a look-alike CRL (same issuer name, other CA key) is BAD_CRL, and a newer CRL is read afresh", async () => {
    const { ca } = await sharedCa();
    const now = new Date();
    const first = await ca.createCrl({ revoked: [], crlNumber: 1, now, nextUpdateSeconds: 3600 });
    expect((await verifyCrl(first, ca.certDer, now)).entries.size).toBe(0);
    await failsWithCode(() => verifyCrl(first, ca.certDer, new Date(now.getTime() + 2 * 3600_000)), "STALE_CRL");
    const impostorCa = await CertificateAuthority.load(await createCa({ commonName: "sis CA test" }));
    await failsWithCode(async () => verifyCrl(await impostorCa.createCrl({ revoked: [], crlNumber: 1, now }), ca.certDer, now), "BAD_CRL");
    const second = await ca.createCrl({ revoked: [{ serial: "0badc0de", revokedAt: now.getTime() - 1000 }], crlNumber: 2, now });
    expect([...(await verifyCrl(second, ca.certDer, now)).revokedSerials]).toEqual(["0badc0de"]);
    expect((await verifyCrl(first, ca.certDer, now)).revokedSerials.size).toBe(0);
  });
});

describe("signer judgement memo (V8, V13)", () => {
  async function alice() {
    const { issued } = await userWithKey("alice");
    return fromPem(issued.pem, "CERTIFICATE");
  }

  test("a signer remembered as good is REVOKED as soon as a newer CRL lists it (and as of a time-stamp after the revocation), and still good at a time-stamp before it", async () => {
    clearTsaCertCache();
    const { ca } = await sharedCa();
    const now = new Date();
    const der = await alice();
    const clean = await ca.createCrl({ revoked: [], crlNumber: 10, now });
    expect((await verifyUserCert({ certDer: der, caCertDer: ca.certDer, crlDer: clean, expectedUser: "alice", now })).username).toBe("alice");
    expect(signerJudgementCount()).toBe(1);
    const revokedAt = now.getTime() - 60_000;
    const revoking = await ca.createCrl({ revoked: [{ serial: certInfo(der).serial, revokedAt }], crlNumber: 11, now });
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer, crlDer: revoking, expectedUser: "alice", now }), "REVOKED");
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer, crlDer: revoking, expectedUser: "alice", now, signedAt: new Date(revokedAt + 1000) }), "REVOKED");
    expect((await verifyUserCert({ certDer: der, caCertDer: ca.certDer, crlDer: revoking, expectedUser: "alice", now, signedAt: new Date(revokedAt - 1000) })).username).toBe("alice");
    // The judgement itself stayed remembered: it was the CRL of the moment that refused.
    expect(signerJudgementCount()).toBe(1);
  });

  test("other bytes with the same serial (a changed signature) are not a hit: UNTRUSTED after the genuine certificate was remembered, and never remembered", async () => {
    clearTsaCertCache();
    const { ca } = await sharedCa();
    const der = await alice();
    await verifyUserCert({ certDer: der, caCertDer: ca.certDer, expectedUser: "alice" });
    const forged = der.slice();
    forged[forged.length - 1]! ^= 0x01; // the last byte of the CA's signature
    expect(certInfo(forged).serial).toBe(certInfo(der).serial);
    await failsWithCode(() => verifyUserCert({ certDer: forged, caCertDer: ca.certDer, expectedUser: "alice" }), "UNTRUSTED");
    expect(signerJudgementCount()).toBe(1);
  });

  test("validity and the expected owner are judged at every call, not remembered: a remembered signer is EXPIRED after its notAfter, NOT_YET_VALID at a time-stamp before its notBefore, WRONG_OWNER for another name", async () => {
    clearTsaCertCache();
    const { ca } = await sharedCa();
    const der = await alice();
    const info = certInfo(der);
    await verifyUserCert({ certDer: der, caCertDer: ca.certDer, expectedUser: "alice" });
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer, expectedUser: "alice", now: new Date(info.notAfter + 1000) }), "EXPIRED");
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer, expectedUser: "alice", signedAt: new Date(info.notBefore - 1000) }), "NOT_YET_VALID");
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer, expectedUser: "bob" }), "WRONG_OWNER");
    expect(signerJudgementCount()).toBe(1);
  });
});
