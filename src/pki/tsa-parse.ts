/**
 * Reads an RFC 3161 TimeStampToken (ENVELOPE.md V11, step 1: structure) with the strict DER
 * reader of src/encoding, not pkijs: building pkijs's SignedData schema was two thirds of a
 * token's verification (bench/README.md, "Performance, second round"). Only reading happens
 * here; every judgement (signature, chain, imprint) is tsa-verify.ts's.
 */
import { readCertificate } from "../crypto/certificate-info.ts";
import { sameBytes } from "../encoding/bytes.ts";
import { TAG, at, children, isStrictDer, parseDer, type Tlv } from "../encoding/der.ts";
import { PkiError } from "./errors.ts";
import { OIDS, SIS_TSA_POLICY_OID, decodeOid } from "./tsa-oids.ts";

/** A sis token is about 1.3 KiB (P-256 TSA, G10), 2.3 KiB with an RSA 3072 one; 8 KiB leaves room and bounds the work (V11). */
export const MAX_TIMESTAMP_TOKEN_SIZE = 8 * 1024;
const BOOLEAN = 0x01;

export interface ParsedToken {
  /** The TSTInfo's DER (what messageDigest is over). */
  tstDer: Uint8Array;
  genTime: Date;
  /** TSTInfo.serialNumber's content octets. */
  serial: Uint8Array;
  /** TSTInfo.messageImprint.hashedMessage (32 bytes, SHA-256). */
  imprint: Uint8Array;
  policy: string;
  /** The signer's certificate, exact bytes as carried, and its serial's content octets. */
  signerDer: Uint8Array;
  signerSerial: Uint8Array;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  /** The signed attributes as signed: the [0] element with its tag read as SET OF (0x31). */
  signedAttrs: Uint8Array;
  signature: Uint8Array;
  /** messageDigest's octets. */
  messageDigest: Uint8Array;
  /** The first ESSCertIDv2 of signingCertificateV2: its certHash, hash algorithm, and issuerSerial's serial (content octets) if present. */
  ess: { hash: Uint8Array; hashAlgorithm: string; serial: Uint8Array | null };
}

function malformed(message: string): never {
  throw new PkiError("TIMESTAMP_MALFORMED", `time-stamp token ${message}`);
}

function oidOf(element: Tlv | undefined): string {
  if (element?.tag !== TAG.OID) malformed("has an object identifier missing");
  return decodeOid(element.content);
}

/** An AlgorithmIdentifier's OID (parameters, absent or NULL, are not read, as pkijs did not). */
function algorithmOf(element: Tlv | undefined): string {
  if (element?.tag !== TAG.SEQUENCE) malformed("has an algorithm identifier missing");
  return oidOf(children(element)[0]);
}

const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/;

/** GeneralizedTime in RFC 3161's form: UTC ("Z"), seconds present, a fraction without trailing zeros. */
function genTimeOf(element: Tlv | undefined): Date {
  if (element?.tag !== TAG.GENERALIZED_TIME) malformed("TSTInfo has no genTime");
  const m = GENERALIZED.exec(String.fromCharCode(...element.content));
  if (!m) malformed("genTime is not a GeneralizedTime in UTC");
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) malformed("genTime is not a valid date");
  return date;
}

/** TSTInfo (RFC 3161 2.4.2): version 1, the sis policy, a SHA-256 imprint, serial, genTime, then only the optional fields in their order, none critical. */
function readTstInfo(tstDer: Uint8Array): Pick<ParsedToken, "genTime" | "serial" | "imprint" | "policy"> {
  const tst = children(parseDer(tstDer), TAG.SEQUENCE);
  const version = at(tst, 0, TAG.INTEGER).content;
  if (version.length !== 1 || version[0] !== 1) malformed("TSTInfo version is not 1");
  const imprint = children(at(tst, 2, TAG.SEQUENCE));
  const hashed = imprint[1];
  if (imprint.length !== 2 || algorithmOf(imprint[0]) !== OIDS.sha256 || hashed?.tag !== TAG.OCTET_STRING || hashed.content.length !== 32) {
    malformed("message imprint is not SHA-256");
  }
  const serial = at(tst, 3, TAG.INTEGER).content;
  const genTime = genTimeOf(tst[4]);
  // accuracy, ordering, nonce, tsa [0], extensions [1]: each at most once, in this order.
  const optional = [TAG.SEQUENCE, BOOLEAN, TAG.INTEGER, TAG.CONTEXT_0, TAG.CONTEXT_1];
  let next = 0;
  for (const element of tst.slice(5)) {
    const place = optional.indexOf(element.tag as (typeof optional)[number], next);
    if (place < 0) malformed("TSTInfo has an unexpected field");
    next = place + 1;
    if (element.tag === TAG.CONTEXT_1) {
      for (const ext of children(element)) {
        const parts = children(ext, TAG.SEQUENCE);
        if (parts[1]?.tag === BOOLEAN && parts[1].content[0] !== 0) malformed("TSTInfo has a critical extension");
      }
    }
  }
  // The policy's own octets: 2.25 arcs exceed 2^53.
  const policy = oidOf(tst[1]);
  if (policy !== SIS_TSA_POLICY_OID) malformed(`policy ${policy} is not the sis time-stamp policy`);
  return { genTime, serial, imprint: hashed.content, policy };
}

/** Signed attributes: each once with one value; contentType id-ct-TSTInfo, messageDigest, signingCertificateV2 required (G9). */
function readSignedAttributes(signedAttrs: Tlv): { messageDigest: Uint8Array; ess: ParsedToken["ess"] } {
  const attrs = new Map<string, Tlv>();
  for (const attr of children(signedAttrs)) {
    const [type, values, extra] = children(attr, TAG.SEQUENCE);
    const oid = oidOf(type);
    const list = values === undefined ? [] : children(values, TAG.SET);
    if (extra !== undefined || attrs.has(oid) || list.length !== 1) malformed(`attribute ${oid} must appear once with one value`);
    attrs.set(oid, list[0]!);
  }
  const contentType = attrs.get(OIDS.contentType);
  if (contentType?.tag !== TAG.OID || decodeOid(contentType.content) !== OIDS.tstInfo) malformed("contentType is not id-ct-TSTInfo");
  const digest = attrs.get(OIDS.messageDigest);
  if (digest?.tag !== TAG.OCTET_STRING) malformed("has no messageDigest");
  const signingCertificate = attrs.get(OIDS.signingCertificateV2);
  if (!signingCertificate) malformed("has no signingCertificateV2 (RFC 5816)");
  return { messageDigest: digest.content, ess: essCertId(signingCertificate) };
}

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, … }; ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }. */
function essCertId(value: Tlv): ParsedToken["ess"] {
  const certs = value.tag === TAG.SEQUENCE ? children(value)[0] : undefined;
  const first = certs?.tag === TAG.SEQUENCE ? children(certs)[0] : undefined;
  if (first?.tag !== TAG.SEQUENCE) malformed("signingCertificateV2 is empty");
  const items = children(first);
  let i = 0;
  let hashAlgorithm: string = OIDS.sha256;
  if (items[0]?.tag === TAG.SEQUENCE) hashAlgorithm = algorithmOf(items[i++]);
  const hash = items[i];
  if (hash?.tag !== TAG.OCTET_STRING) malformed("ESSCertIDv2 has no certHash");
  const issuerSerial = items[i + 1];
  // IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }
  const serial = issuerSerial === undefined ? null : at(children(issuerSerial, TAG.SEQUENCE), 1, TAG.INTEGER).content;
  return { hash: hash.content, hashAlgorithm, serial };
}

const CONSTRUCTED_OCTET_STRING = 0x24;

/**
 * An OCTET STRING's value. pkijs (which made every sis token so far) writes eContent in BER's
 * constructed form, primitive segments inside one constructed OCTET STRING; openssl writes the
 * primitive form. Both are read, as pkijs's getValue() did: the segments concatenated.
 */
function octetsOf(element: Tlv): Uint8Array {
  if (element.tag === TAG.OCTET_STRING) return element.content;
  if (element.tag !== CONSTRUCTED_OCTET_STRING) malformed("does not hold a TSTInfo");
  const segments = children(element);
  if (segments.some((s) => s.tag !== TAG.OCTET_STRING)) malformed("does not hold a TSTInfo");
  return segments.length === 1 ? segments[0]!.content : new Uint8Array(Buffer.concat(segments.map((s) => s.content)));
}

/** Step 1 of V11: the token is a strict-DER ContentInfo of a SignedData over a TSTInfo, with one signer named by issuer and serial, whose certificate it carries. */
export function parseToken(der: Uint8Array): ParsedToken {
  if (der.length > MAX_TIMESTAMP_TOKEN_SIZE) malformed(`is larger than ${MAX_TIMESTAMP_TOKEN_SIZE} bytes`);
  if (!isStrictDer(der)) malformed("is not well-formed DER");
  const contentInfo = children(parseDer(der), TAG.SEQUENCE);
  if (contentInfo.length !== 2 || oidOf(contentInfo[0]) !== OIDS.signedData) malformed("is not a CMS SignedData");
  const wrapper = children(at(contentInfo, 1, TAG.CONTEXT_0));
  if (wrapper.length !== 1) malformed("is not a CMS SignedData");
  const sd = children(at(wrapper, 0), TAG.SEQUENCE);
  let i = 0;
  at(sd, i++, TAG.INTEGER); // version
  at(sd, i++, TAG.SET); // digestAlgorithms
  const encap = children(at(sd, i++, TAG.SEQUENCE));
  const eContent = encap[1]?.tag === TAG.CONTEXT_0 ? children(encap[1]) : [];
  if (oidOf(encap[0]) !== OIDS.tstInfo || encap.length !== 2 || eContent.length !== 1) malformed("does not hold a TSTInfo");
  const tstDer = octetsOf(eContent[0]!);
  const certificates = sd[i]?.tag === TAG.CONTEXT_0 ? children(at(sd, i++)) : [];
  if (sd[i]?.tag === TAG.CONTEXT_1) i++; // crls: not read
  const signerInfos = children(at(sd, i++), TAG.SET);
  if (i !== sd.length) malformed("has unexpected data after signerInfos");
  if (signerInfos.length !== 1) malformed("must have exactly one signer");

  if (!isStrictDer(tstDer)) malformed("TSTInfo is not well-formed DER");
  const tst = readTstInfo(tstDer);

  const si = children(at(signerInfos, 0), TAG.SEQUENCE);
  at(si, 0, TAG.INTEGER); // version
  const sid = at(si, 1);
  if (sid.tag !== TAG.SEQUENCE) malformed("signer must be named by issuer and serial number");
  const [sidIssuer, sidSerial, sidExtra] = children(sid);
  if (sidIssuer?.tag !== TAG.SEQUENCE || sidSerial?.tag !== TAG.INTEGER || sidExtra !== undefined) malformed("signer must be named by issuer and serial number");
  const digestAlgorithm = algorithmOf(si[2]);
  const signedAttrs = si[3]?.tag === TAG.CONTEXT_0 ? si[3] : undefined;
  if (!signedAttrs) malformed("contentType is not id-ct-TSTInfo"); // no signed attributes at all
  const signatureAlgorithm = algorithmOf(si[4]);
  const signature = at(si, 5, TAG.OCTET_STRING).content;
  if (si.length > 7 || (si.length === 7 && si[6]!.tag !== TAG.CONTEXT_1)) malformed("has unexpected data in its SignerInfo");
  const { messageDigest, ess } = readSignedAttributes(signedAttrs);

  // Only plain certificates (SEQUENCE) can be the signer's; the other CertificateChoices are skipped.
  const signer = certificates
    .filter((c) => c.tag === TAG.SEQUENCE)
    .map((c) => readCertificate(c.bytes))
    .find((c) => sameBytes(c.issuer, sidIssuer.bytes) && sameBytes(c.serial, sidSerial.content));
  if (!signer) malformed("does not carry its signer's certificate");
  const signed = signedAttrs.bytes.slice();
  signed[0] = TAG.SET;
  return { tstDer, ...tst, signerDer: signer.der, signerSerial: signer.serial, digestAlgorithm, signatureAlgorithm, signedAttrs: signed, signature, messageDigest, ess };
}
