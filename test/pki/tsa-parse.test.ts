/**
 * The DER reading of a time-stamp token (V11 step 1, src/pki/tsa-parse.ts): tokens rebuilt and
 * re-signed with the real TSA key, so each differs from a good token in one structural point
 * only, and that point alone must make it TIMESTAMP_MALFORMED (the signature is valid).
 */
import { describe, expect, test } from "bun:test";
import { TAG, children, oid, parseDer, tlv, type Tlv } from "../../src/encoding/der.ts";
import { ecdsaToDer } from "../../src/pki/ecdsa-der.ts";
import { sha256 } from "../../src/pki/tsa-token.ts";
import { SIS_TSA_POLICY_OID } from "../../src/pki/tsa-oids.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { failsWithCode, sharedCa } from "./helpers.ts";
import { sharedTsa, signatureValue, type Tsa } from "./tsa-fixtures.ts";

const BOOLEAN = 0x01;

interface Edits {
  /** The TSTInfo's fields (as elements' bytes) → the fields to encode. */
  tst?: (fields: Uint8Array[]) => Uint8Array[];
  /** The signed attributes (whole Attribute elements) → the ones to sign. */
  attrs?: (attrs: Uint8Array[]) => Uint8Array[];
  /** eContent's OCTET STRING, given the TSTInfo DER. */
  eContent?: (tstDer: Uint8Array) => Uint8Array;
  /** The SignerInfos SET's content, given the one SignerInfo. */
  signerInfos?: (signerInfo: Uint8Array) => Uint8Array[];
  /** The SignerInfo's sid. */
  sid?: (sid: Tlv) => Uint8Array;
}

/** A good sis token with `edits` applied, its signed attributes signed again with the TSA's key. */
async function rebuilt(tsa: Tsa, sig: Uint8Array, edits: Edits): Promise<Uint8Array> {
  const good = (await tsa.tsa.stampSignature(sig)).der;
  const sd = children(children(children(parseDer(good))[1]!)[0]!);
  const [version, digestAlgs, encap, certs, signerInfos] = sd as [Tlv, Tlv, Tlv, Tlv, Tlv];
  const [eType, eWrap] = children(encap) as [Tlv, Tlv];
  const inner = children(eWrap)[0]!;
  const tstDer = inner.tag === TAG.OCTET_STRING ? inner.content : children(inner)[0]!.content;
  const fields = children(parseDer(tstDer)).map((f) => f.bytes);
  const newTst = tlv(TAG.SEQUENCE, ...(edits.tst ?? ((f) => f))(fields));
  const si = children(children(signerInfos)[0]!);
  const [siVersion, sid, digestAlg, signedAttrs, sigAlg] = si as [Tlv, Tlv, Tlv, Tlv, Tlv];
  const digest = await sha256(newTst);
  const messageDigest = oid("1.2.840.113549.1.9.4");
  // The signed attributes as they were, messageDigest over the edited TSTInfo.
  const withDigest = children(signedAttrs).map((a) =>
    Buffer.from(children(a)[0]!.bytes).equals(Buffer.from(messageDigest)) ? tlv(TAG.SEQUENCE, messageDigest, tlv(TAG.SET, tlv(TAG.OCTET_STRING, digest))) : a.bytes,
  );
  const signedList = (edits.attrs ?? ((a) => a))(withDigest).sort(Buffer.compare);
  const toSign = tlv(TAG.SET, ...signedList);
  // The TSA's own algorithm (a P-256 key since G10 says so, RSA for older data directories).
  const signature =
    tsa.key.algorithm.name === "ECDSA"
      ? ecdsaToDer(new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, tsa.key, toSign)))
      : new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", tsa.key, toSign));
  const signerInfo = tlv(TAG.SEQUENCE, siVersion.bytes, (edits.sid ?? ((s) => s.bytes))(sid), digestAlg.bytes, tlv(TAG.CONTEXT_0, ...signedList), sigAlg.bytes, tlv(TAG.OCTET_STRING, signature));
  const eContent = (edits.eContent ?? ((t) => tlv(TAG.OCTET_STRING, t)))(newTst);
  const signedData = tlv(TAG.SEQUENCE, version.bytes, digestAlgs.bytes, tlv(TAG.SEQUENCE, eType.bytes, tlv(TAG.CONTEXT_0, eContent)), certs.bytes, tlv(TAG.SET, ...(edits.signerInfos ?? ((s) => [s]))(signerInfo)));
  return tlv(TAG.SEQUENCE, oid("1.2.840.113549.1.7.2"), tlv(TAG.CONTEXT_0, signedData));
}

describe("time-stamp token read with the DER reader (V11 step 1)", () => {
  test("the rebuilt token itself verifies, with eContent primitive (openssl's form) and constructed (pkijs's form)", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    for (const eContent of [undefined, (t: Uint8Array) => tlv(0x24, tlv(TAG.OCTET_STRING, t)), (t: Uint8Array) => tlv(0x24, tlv(TAG.OCTET_STRING, t.subarray(0, 10)), tlv(TAG.OCTET_STRING, t.subarray(10)))]) {
      const token = await rebuilt(tsa, sig, eContent ? { eContent } : {});
      const v = await verifyTimeStampToken({ tokenDer: token, signatureValue: sig, caCertDer: ca.certDer });
      expect(v.policy).toBe(SIS_TSA_POLICY_OID);
    }
  });

  test("each structural defect alone, under a valid TSA signature, is TIMESTAMP_MALFORMED", async () => {
    const { ca } = await sharedCa();
    const tsa = await sharedTsa();
    const sig = signatureValue();
    const criticalExt = tlv(TAG.CONTEXT_1, tlv(TAG.SEQUENCE, oid("1.2.3.4"), tlv(BOOLEAN, new Uint8Array([0xff])), tlv(TAG.OCTET_STRING, new Uint8Array([5, 0]))));
    const cases: [string, Edits][] = [
      ["TSTInfo version 2", { tst: (f) => [tlv(TAG.INTEGER, new Uint8Array([2])), ...f.slice(1)] }],
      ["a critical TSTInfo extension", { tst: (f) => [...f, criticalExt] }],
      ["an unknown field after genTime", { tst: (f) => [...f, tlv(TAG.OCTET_STRING, new Uint8Array([1]))] }],
      ["two nonces", { tst: (f) => [...f, tlv(TAG.INTEGER, new Uint8Array([1])), tlv(TAG.INTEGER, new Uint8Array([2]))] }],
      ["a genTime in local time (no Z)", { tst: (f) => [...f.slice(0, 4), tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode("20260102030405")), ...f.slice(5)] }],
      ["a genTime on 31 February", { tst: (f) => [...f.slice(0, 4), tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode("20260231030405Z")), ...f.slice(5)] }],
      ["an imprint of 20 bytes", { tst: (f) => [f[0]!, f[1]!, tlv(TAG.SEQUENCE, children(parseDer(f[2]!))[0]!.bytes, tlv(TAG.OCTET_STRING, new Uint8Array(20))), ...f.slice(3)] }],
      ["another policy", { tst: (f) => [f[0]!, oid("1.2.3.4"), ...f.slice(2)] }],
      ["no signingCertificateV2", { attrs: (a) => a.filter((x) => !Buffer.from(x).includes(Buffer.from(oid("1.2.840.113549.1.9.16.2.47")))) }],
      ["a signed attribute twice", { attrs: (a) => [...a, a.find((x) => Buffer.from(x).includes(Buffer.from(oid("1.2.840.113549.1.9.16.2.47"))))!] }],
      ["eContent neither an OCTET STRING nor one built of them", { eContent: (t) => tlv(TAG.SEQUENCE, tlv(TAG.OCTET_STRING, t)) }],
      ["two signers", { signerInfos: (s) => [s, s] }],
      ["a signer named by key identifier", { sid: () => tlv(TAG.CONTEXT_PRIMITIVE_0, new Uint8Array(20)) }],
      ["a signer whose certificate is not carried", { sid: (s) => tlv(TAG.SEQUENCE, children(s)[0]!.bytes, tlv(TAG.INTEGER, new Uint8Array([0x7f]))) }],
    ];
    for (const [what, edits] of cases) {
      const token = await rebuilt(tsa, sig, edits);
      try {
        await failsWithCode(() => verifyTimeStampToken({ tokenDer: token, signatureValue: sig, caCertDer: ca.certDer }), "TIMESTAMP_MALFORMED");
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`);
      }
    }
  });
});
