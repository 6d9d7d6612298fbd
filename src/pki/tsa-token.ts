/** Makes RFC 3161 time-stamp tokens (ENVELOPE.md G9): CMS SignedData over a TSTInfo, with ESSCertIDv2 (RFC 5816). */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { assertTsaUsage } from "./chain.ts";
import { ecdsaToDer } from "./ecdsa-der.ts";
import { assertKeyMatches, ECDSA_SHA256, importTsaSigningKey, SIGNING_ALGORITHM } from "./keys.ts";
import { parseCert } from "./parse.ts";
import { fromPem } from "./pem.ts";
import { readCertificate } from "../crypto/certificate-info.ts";
import { compareBytes } from "../encoding/bytes.ts";
import { TAG, oid, tlv } from "../encoding/der.ts";
import { normalizeSerial, randomSerial, serialToDerHex } from "./serial.ts";
import { OIDS, SIS_TSA_POLICY_OID, encodeOid } from "./tsa-oids.ts";

const SHA256_BYTES = 32;

export interface TimeStampRequest {
  /** The TSA certificate (DER), issued by the CA with the timeStamping profile. */
  tsaCertDer: Uint8Array;
  /** The TSA's private key: ECDSA P-256 or RSASSA-PKCS1-v1_5, with SHA-256 (importTsaSigningKey, G10). */
  tsaKey: CryptoKey;
  /** The message imprint: SHA-256 of the time-stamped data (for sis, of an image signature's value, G9). */
  digest: Uint8Array;
  /** Hex; defaults to 128 random bits, unique without a counter (RFC 3161 2.4.2 serialNumber). */
  serial?: string;
  /** Defaults to now; whole seconds are kept. */
  genTime?: Date;
  /** Defaults to SIS_TSA_POLICY_OID. */
  policy?: string;
}

export interface TimeStampToken {
  /** DER of the ContentInfo (id-signedData) that is the TimeStampToken. */
  der: Uint8Array;
  genTime: Date;
  /** Normalised hex. */
  serial: string;
}

/** SHA-256 of `data`: the imprint of a signature value (G9). */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(data)));
}

function octets(bytes: Uint8Array): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: new Uint8Array(bytes) });
}

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 } with one ESSCertIDv2 for the TSA certificate. */
async function signingCertificateV2(cert: pkijs.Certificate, certDer: Uint8Array): Promise<asn1js.Sequence> {
  // hashAlgorithm is omitted: it DEFAULTs to sha256, and DER leaves defaults out (RFC 5035 5.4.1.1).
  const issuerSerial = new pkijs.IssuerSerial({
    issuer: new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 4, value: cert.issuer })] }),
    serialNumber: cert.serialNumber,
  });
  const essCertIdV2 = new asn1js.Sequence({ value: [octets(await sha256(certDer)), issuerSerial.toSchema()] });
  return new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] });
}

/** The last TSA certificate seen, with what every token repeats: its SigningCertificateV2 and SignerInfo sid encoded once. */
let lastSigner: { der: Buffer; essDer: Uint8Array; sid: Uint8Array } | undefined;

/** The TSA certificate's SigningCertificateV2 and IssuerAndSerialNumber DER, remembered for the exact same bytes. */
async function signerOf(certDer: Uint8Array): Promise<{ essDer: Uint8Array; sid: Uint8Array }> {
  if (lastSigner?.der.equals(certDer)) return lastSigner;
  parseCert(certDer); // strict DER and size bound before pkijs reads it
  const cert = pkijs.Certificate.fromBER(new Uint8Array(certDer));
  const essDer = new Uint8Array((await signingCertificateV2(cert, certDer)).toBER());
  const info = readCertificate(certDer);
  lastSigner = { der: Buffer.from(certDer), essDer, sid: tlv(TAG.SEQUENCE, info.issuer, tlv(TAG.INTEGER, info.serial)) };
  return lastSigner;
}

const SHA256_ALG = tlv(TAG.SEQUENCE, oid(OIDS.sha256));
const SHA256_ALG_NULL = tlv(TAG.SEQUENCE, oid(OIDS.sha256), tlv(TAG.NULL));
const SHA256_RSA_ALG = tlv(TAG.SEQUENCE, oid(OIDS.sha256WithRSAEncryption));
/** ecdsa-with-SHA256, parameters absent (RFC 5758 3.2). */
const SHA256_ECDSA_ALG = tlv(TAG.SEQUENCE, oid(OIDS.ecdsaWithSHA256));

/** The SignerInfo's signatureAlgorithm and signature for the TSA's key type (G9). */
async function signAttributes(key: CryptoKey, signed: Uint8Array<ArrayBuffer>): Promise<{ algorithm: Uint8Array; signature: Uint8Array }> {
  if (key.algorithm.name === "ECDSA") {
    return { algorithm: SHA256_ECDSA_ALG, signature: ecdsaToDer(new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, key, signed))) };
  }
  return { algorithm: SHA256_RSA_ALG, signature: new Uint8Array(await crypto.subtle.sign(SIGNING_ALGORITHM, key, signed)) };
}
const INTEGER_1 = tlv(TAG.INTEGER, new Uint8Array([1]));
const INTEGER_3 = tlv(TAG.INTEGER, new Uint8Array([3]));

/** GeneralizedTime "YYYYMMDDhhmmssZ" (RFC 3161 2.4.2: genTime is always GeneralizedTime, whole seconds here). */
function generalizedTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new RangeError("createTimeStampToken: genTime is out of range");
  const text = [year, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    .map((n, i) => String(n).padStart(i === 0 ? 4 : 2, "0"))
    .join("");
  return tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode(`${text}Z`));
}

/**
 * Makes one token (G9). The caller supplies the time: the TSA is the server's clock. Encoded with
 * src/encoding's DER writer: pkijs's schema objects cost ~2/3 of a token (bench/README.md,
 * "Performance, second round"), and a token is made for every image before POSTED.
 */
export async function createTimeStampToken(req: TimeStampRequest): Promise<TimeStampToken> {
  if (req.digest.length !== SHA256_BYTES) throw new RangeError("createTimeStampToken: the imprint must be a SHA-256 digest (32 bytes)");
  const genTime = new Date(Math.floor((req.genTime ?? new Date()).getTime() / 1000) * 1000);
  if (!Number.isFinite(genTime.getTime())) throw new RangeError("createTimeStampToken: genTime is not a valid date");
  const serial = serialToDerHex(req.serial ?? randomSerial());
  const { essDer, sid } = await signerOf(req.tsaCertDer);

  const tstDer = tlv(
    TAG.SEQUENCE,
    INTEGER_1,
    encodeOid(req.policy ?? SIS_TSA_POLICY_OID),
    tlv(TAG.SEQUENCE, SHA256_ALG, tlv(TAG.OCTET_STRING, req.digest)),
    tlv(TAG.INTEGER, Buffer.from(serial, "hex")),
    generalizedTime(genTime),
  );
  const attributes = [
    tlv(TAG.SEQUENCE, oid(OIDS.contentType), tlv(TAG.SET, oid(OIDS.tstInfo))),
    tlv(TAG.SEQUENCE, oid(OIDS.messageDigest), tlv(TAG.SET, tlv(TAG.OCTET_STRING, await sha256(tstDer)))),
    tlv(TAG.SEQUENCE, oid(OIDS.signingCertificateV2), tlv(TAG.SET, essDer)),
  ].sort(compareBytes); // DER SET OF order
  const signed = tlv(TAG.SET, ...attributes);
  const { algorithm, signature } = await signAttributes(req.tsaKey, signed);
  const signerInfo = tlv(TAG.SEQUENCE, INTEGER_1, sid, SHA256_ALG_NULL, tlv(TAG.CONTEXT_0, ...attributes), algorithm, tlv(TAG.OCTET_STRING, signature));
  const signedData = tlv(
    TAG.SEQUENCE,
    INTEGER_3,
    tlv(TAG.SET, SHA256_ALG_NULL),
    tlv(TAG.SEQUENCE, oid(OIDS.tstInfo), tlv(TAG.CONTEXT_0, tlv(TAG.OCTET_STRING, tstDer))),
    tlv(TAG.CONTEXT_0, req.tsaCertDer),
    tlv(TAG.SET, signerInfo),
  );
  const der = tlv(TAG.SEQUENCE, oid(OIDS.signedData), tlv(TAG.CONTEXT_0, signedData));
  return { der, genTime, serial: normalizeSerial(serial) };
}

/** The server's TSA: its certificate and key, loaded once and checked to belong together. */
export class TimeStampAuthority {
  private constructor(
    readonly certDer: Uint8Array,
    private readonly key: CryptoKey,
  ) {}

  /** Loads the PEM files written by CertificateAuthority.issueTsaCert; refuses a key of another certificate. */
  static async load(files: { certPem: string; keyPem: string }): Promise<TimeStampAuthority> {
    const certDer = fromPem(files.certPem, "CERTIFICATE");
    const cert = parseCert(certDer);
    assertTsaUsage(cert, "BAD_CERT"); // a TSA that makes tokens every receiver refuses is a configuration error
    const key = await importTsaSigningKey(fromPem(files.keyPem, "PRIVATE KEY"));
    await assertKeyMatches(key, await cert.publicKey.export(), "TSA");
    return new TimeStampAuthority(certDer, key);
  }

  /** Time-stamps an image signature's value (G9): the imprint is SHA-256 of those bytes. */
  async stampSignature(signatureValue: Uint8Array, opts: { genTime?: Date; serial?: string } = {}): Promise<TimeStampToken> {
    return createTimeStampToken({ tsaCertDer: this.certDer, tsaKey: this.key, digest: await sha256(signatureValue), ...opts });
  }
}
