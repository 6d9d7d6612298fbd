/** Verifies an RFC 3161 time-stamp token on an image signature (ENVELOPE.md V11): pure, one code per failure. */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { assertIssuedBy, assertTsaUsage, assertValidAt } from "./chain.ts";
import { verifyCrl } from "./crl-verify.ts";
import { isStrictDer } from "../encoding/der.ts";
import { PkiError, wrapAsync, type PkiErrorCode } from "./errors.ts";
import { issuedByMemo, parseCertMemo, publicKeyMemo } from "./cert-memo.ts";
import { BACKDATE_MS } from "./profiles.ts";
import { COMPROMISE_REASONS } from "./revocation.ts";
import { normalizeSerial } from "./serial.ts";
import { sha256 } from "./tsa-token.ts";
import { OIDS, SIS_TSA_POLICY_OID, decodeOid } from "./tsa-oids.ts";

/** A sis token is about 2.3 KiB (a 3072-bit TSA certificate and signature); 8 KiB leaves room and bounds the work (V11). */
export const MAX_TIMESTAMP_TOKEN_SIZE = 8 * 1024;
const MIN_RSA_BITS = 2048;
const RSA_PKCS1_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

export interface VerifyTimeStampOptions {
  /** The TimeStampToken: DER of a ContentInfo (id-aa-signatureTimeStampToken's value, G8). */
  tokenDer: Uint8Array;
  /** The time-stamped bytes: the SignerInfo signature value of the image signature (G9). */
  signatureValue: Uint8Array;
  caCertDer: Uint8Array;
  /** When given, it must verify and be fresh at `now`, and it decides whether the TSA certificate was revoked. */
  crlDer?: Uint8Array;
  now?: Date;
}

export interface VerifiedTimeStamp {
  /** When the TSA saw the signature: pass it to verifyUserCert as signedAt (V12). */
  genTime: Date;
  /** The token's serial number, normalised hex. */
  serial: string;
  policy: string;
  tsaCertDer: Uint8Array;
  tsaSerial: string;
}

function fail(code: PkiErrorCode, message: string): never {
  throw new PkiError(code, message);
}

function malformed(message: string): never {
  fail("TIMESTAMP_MALFORMED", `time-stamp token ${message}`);
}

/** V11, in order: structure, signature, chain at genTime, TSA usage, TSA revocation, imprint. The first failure throws. */
export async function verifyTimeStampToken(opts: VerifyTimeStampOptions): Promise<VerifiedTimeStamp> {
  // Safety net: whatever a library throws on hostile bytes is TIMESTAMP_MALFORMED, never raw.
  return wrapAsync("TIMESTAMP_MALFORMED", "time-stamp token could not be read", () => verifyUnwrapped(opts));
}

interface Parsed {
  tstDer: Uint8Array;
  tst: pkijs.TSTInfo;
  policy: string;
  signer: pkijs.Certificate;
  signerDer: Uint8Array;
  signerInfo: pkijs.SignerInfo;
}

function parseToken(der: Uint8Array): Parsed {
  if (der.length > MAX_TIMESTAMP_TOKEN_SIZE) malformed(`is larger than ${MAX_TIMESTAMP_TOKEN_SIZE} bytes`);
  if (!isStrictDer(der)) malformed("is not well-formed DER");
  const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(der));
  if (contentInfo.contentType !== OIDS.signedData) malformed("is not a CMS SignedData");
  const sd = new pkijs.SignedData({ schema: contentInfo.content });
  const encap = sd.encapContentInfo;
  if (encap.eContentType !== OIDS.tstInfo || !encap.eContent) malformed("does not hold a TSTInfo");
  if (sd.signerInfos.length !== 1) malformed("must have exactly one signer");
  const signerInfo = sd.signerInfos[0]!;

  const tstDer = new Uint8Array(encap.eContent.getValue());
  if (!isStrictDer(tstDer)) malformed("TSTInfo is not well-formed DER");
  const tst = pkijs.TSTInfo.fromBER(tstDer);
  if (tst.version !== 1) malformed("TSTInfo version is not 1");
  const imprintAlg = tst.messageImprint.hashAlgorithm;
  if (imprintAlg.algorithmId !== OIDS.sha256 || tst.messageImprint.hashedMessage.valueBlock.valueHexView.length !== 32) {
    malformed("message imprint is not SHA-256");
  }
  if (tst.extensions?.some((e) => e.critical)) malformed("TSTInfo has a critical extension");
  // pkijs prints 2.25 arcs as hex; read the policy's own octets.
  const policyElement = (asn1js.fromBER(tstDer).result as asn1js.Sequence).valueBlock.value[1];
  if (!(policyElement instanceof asn1js.ObjectIdentifier)) malformed("TSTInfo has no policy");
  const policy = decodeOid(new Uint8Array(policyElement.valueBlock.toBER()));
  if (policy !== SIS_TSA_POLICY_OID) malformed(`policy ${policy} is not the sis time-stamp policy`);

  const sid = signerInfo.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) malformed("signer must be named by issuer and serial number");
  const signer = (sd.certificates ?? []).find(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber),
  );
  if (!signer) malformed("does not carry its signer's certificate");
  return { tstDer, tst, policy, signer, signerDer: new Uint8Array(signer.toSchema().toBER()), signerInfo };
}

/** The certHash (and issuerSerial serial, if present) of the first ESSCertIDv2 in a SigningCertificateV2 value. */
function essCertId(value: unknown): { hash: Uint8Array; serial: asn1js.Integer | null } {
  const certs = value instanceof asn1js.Sequence ? value.valueBlock.value[0] : undefined;
  const first = certs instanceof asn1js.Sequence ? certs.valueBlock.value[0] : undefined;
  if (!(first instanceof asn1js.Sequence)) malformed("signingCertificateV2 is empty");
  const items = first.valueBlock.value;
  let i = 0;
  if (items[0] instanceof asn1js.Sequence) {
    if (new pkijs.AlgorithmIdentifier({ schema: items[0] }).algorithmId !== OIDS.sha256) malformed("ESSCertIDv2 hash is not SHA-256");
    i = 1;
  }
  const hash = items[i];
  if (!(hash instanceof asn1js.OctetString)) malformed("ESSCertIDv2 has no certHash");
  const issuerSerial = items[i + 1];
  const serial = issuerSerial === undefined ? null : new pkijs.IssuerSerial({ schema: issuerSerial }).serialNumber;
  return { hash: hash.valueBlock.valueHexView, serial };
}

/** Signed attributes: contentType, messageDigest, signingCertificateV2 each exactly once with one value (G9). */
function signedAttributes(signerInfo: pkijs.SignerInfo): Map<string, unknown> {
  const attrs = new Map<string, unknown>();
  for (const attr of signerInfo.signedAttrs?.attributes ?? []) {
    if (attrs.has(attr.type) || attr.values.length !== 1) malformed(`attribute ${attr.type} must appear once with one value`);
    attrs.set(attr.type, attr.values[0]);
  }
  const contentType = attrs.get(OIDS.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== OIDS.tstInfo) malformed("contentType is not id-ct-TSTInfo");
  if (!(attrs.get(OIDS.messageDigest) instanceof asn1js.OctetString)) malformed("has no messageDigest");
  if (!attrs.has(OIDS.signingCertificateV2)) malformed("has no signingCertificateV2 (RFC 5816)");
  return attrs;
}

async function assertSigned(p: Parsed): Promise<void> {
  const attrs = signedAttributes(p.signerInfo);
  const badSignature = (m: string): never => fail("TIMESTAMP_BAD_SIGNATURE", `time-stamp token ${m}`);
  if (p.signerInfo.digestAlgorithm.algorithmId !== OIDS.sha256) malformed("digest algorithm is not SHA-256");
  const sigAlg = p.signerInfo.signatureAlgorithm.algorithmId;
  if (sigAlg !== OIDS.sha256WithRSAEncryption && sigAlg !== OIDS.rsaEncryption) malformed("signature is not RSA PKCS#1 v1.5");

  const digest = (attrs.get(OIDS.messageDigest) as asn1js.OctetString).valueBlock.valueHexView;
  if (!Buffer.from(digest).equals(Buffer.from(await sha256(p.tstDer)))) badSignature("TSTInfo does not match its signed digest");
  const ess = essCertId(attrs.get(OIDS.signingCertificateV2));
  if (!Buffer.from(ess.hash).equals(Buffer.from(await sha256(p.signerDer)))) badSignature("names another certificate than its signer's (ESSCertIDv2)");
  if (ess.serial !== null && !ess.serial.isEqual(p.signer.serialNumber)) badSignature("names another serial number than its signer's (ESSCertIDv2)");

  const cert = parseCertMemo(p.signerDer);
  const key = await publicKeyMemo(p.signerDer, () =>
    crypto.subtle.importKey("spki", new Uint8Array(cert.publicKey.rawData), RSA_PKCS1_SHA256, false, ["verify"]).catch(() => malformed("signer key is not RSA")),
  );
  if ((key.algorithm as RsaHashedKeyAlgorithm).modulusLength < MIN_RSA_BITS) malformed("signer key is shorter than 2048 bits");
  const signature = p.signerInfo.signature.valueBlock.valueHexView;
  const signed = new Uint8Array(p.signerInfo.signedAttrs!.encodedValue); // pkijs already set the SET OF tag (0x31)
  if (!(await crypto.subtle.verify(RSA_PKCS1_SHA256, key, new Uint8Array(signature), signed))) badSignature("signature does not verify with its certificate");
}

async function verifyUnwrapped(opts: VerifyTimeStampOptions): Promise<VerifiedTimeStamp> {
  const now = opts.now ?? new Date();
  const parsed = parseToken(opts.tokenDer);
  await assertSigned(parsed);

  const genTime = parsed.tst.genTime;
  const tsa = parseCertMemo(parsed.signerDer);
  const ca = parseCertMemo(opts.caCertDer);
  try {
    // Remembered by the exact bytes of both certificates: another TSA certificate runs the check afresh.
    await issuedByMemo(parsed.signerDer, opts.caCertDer, () => assertIssuedBy(tsa, ca));
    // A token cannot predate its own making; the allowance is the certificates' clock skew.
    if (genTime.getTime() > now.getTime() + BACKDATE_MS) fail("UNTRUSTED", `the token is dated in the future (${genTime.toISOString()})`);
    assertValidAt(tsa, genTime, "TSA certificate", true);
    assertValidAt(ca, genTime, "CA certificate", true);
  } catch (e) {
    if (e instanceof PkiError) fail("TIMESTAMP_UNTRUSTED", `time-stamp: ${e.message}`);
    throw e;
  }
  assertTsaUsage(tsa);

  const tsaSerial = normalizeSerial(tsa.serialNumber);
  if (opts.crlDer) {
    const entry = (await verifyCrl(opts.crlDer, opts.caCertDer, now)).entries.get(tsaSerial);
    // A TSA key that may be in other hands can write any genTime, so the invalidity date cannot save any token (V11).
    if (entry && ((entry.reason !== undefined && COMPROMISE_REASONS.has(entry.reason)) || genTime.getTime() >= entry.revokedAt)) {
      fail("TIMESTAMP_REVOKED", `time-stamping certificate was revoked (${entry.reason ?? "unspecified"}) on ${new Date(entry.revokedAt).toISOString()}`);
    }
  }

  const imprint = parsed.tst.messageImprint.hashedMessage.valueBlock.valueHexView;
  if (!Buffer.from(imprint).equals(Buffer.from(await sha256(opts.signatureValue)))) {
    fail("TIMESTAMP_IMPRINT_MISMATCH", "time-stamp token is about another signature (message imprint mismatch)");
  }
  const serial = normalizeSerial(Buffer.from(parsed.tst.serialNumber.valueBlock.valueHexView).toString("hex"));
  return { genTime, serial, policy: parsed.policy, tsaCertDer: parsed.signerDer, tsaSerial };
}
