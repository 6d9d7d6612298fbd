/** Makes RFC 3161 time-stamp tokens (ENVELOPE.md G9): CMS SignedData over a TSTInfo, with ESSCertIDv2 (RFC 5816). */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { assertTsaUsage } from "./chain.ts";
import { assertKeyMatches, importSigningKey } from "./keys.ts";
import { parseCert } from "./parse.ts";
import { fromPem } from "./pem.ts";
import { engine } from "./pkijs-engine.ts";
import { normalizeSerial, randomSerial, serialToDerHex } from "./serial.ts";
import { OIDS, SIS_TSA_POLICY_OID } from "./tsa-oids.ts";

const SHA256_BYTES = 32;

export interface TimeStampRequest {
  /** The TSA certificate (DER), issued by the CA with the timeStamping profile. */
  tsaCertDer: Uint8Array;
  /** The TSA's private key, imported for RSASSA-PKCS1-v1_5 with SHA-256 (importSigningKey). */
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

/** The last TSA certificate seen, parsed, with its SigningCertificateV2 encoded: the server stamps with one TSA. */
let lastSigner: { der: Buffer; cert: pkijs.Certificate; essDer: Uint8Array } | undefined;

/** The pkijs form of `certDer` and its SigningCertificateV2 DER, remembered for the exact same bytes. */
async function signerOf(certDer: Uint8Array): Promise<{ cert: pkijs.Certificate; essDer: Uint8Array }> {
  if (lastSigner?.der.equals(certDer)) return lastSigner;
  parseCert(certDer); // strict DER and size bound before pkijs reads it
  const cert = pkijs.Certificate.fromBER(new Uint8Array(certDer));
  const essDer = new Uint8Array((await signingCertificateV2(cert, certDer)).toBER());
  lastSigner = { der: Buffer.from(certDer), cert, essDer };
  return lastSigner;
}

/** The signed attributes, in DER SET OF order (sorted by encoding). */
function sortedAttributes(attributes: pkijs.Attribute[]): pkijs.Attribute[] {
  const encoded = attributes.map((a) => ({ a, der: Buffer.from(a.toSchema().toBER()) }));
  return encoded.sort((x, y) => Buffer.compare(x.der, y.der)).map((e) => e.a);
}

/** Makes one token (G9). The caller supplies the time: the TSA is the server's clock. */
export async function createTimeStampToken(req: TimeStampRequest): Promise<TimeStampToken> {
  if (req.digest.length !== SHA256_BYTES) throw new RangeError("createTimeStampToken: the imprint must be a SHA-256 digest (32 bytes)");
  const genTime = new Date(Math.floor((req.genTime ?? new Date()).getTime() / 1000) * 1000);
  if (!Number.isFinite(genTime.getTime())) throw new RangeError("createTimeStampToken: genTime is not a valid date");
  const serial = serialToDerHex(req.serial ?? randomSerial());
  const { cert, essDer } = await signerOf(req.tsaCertDer);

  const tstInfo = new pkijs.TSTInfo({
    version: 1,
    policy: req.policy ?? SIS_TSA_POLICY_OID,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OIDS.sha256 }),
      hashedMessage: octets(req.digest),
    }),
    serialNumber: new asn1js.Integer({ valueHex: Buffer.from(serial, "hex") }),
    genTime,
  });
  const tstDer = new Uint8Array(tstInfo.toSchema().toBER());

  const attributes = sortedAttributes([
    new pkijs.Attribute({ type: OIDS.contentType, values: [new asn1js.ObjectIdentifier({ value: OIDS.tstInfo })] }),
    new pkijs.Attribute({ type: OIDS.messageDigest, values: [octets(await sha256(tstDer))] }),
    new pkijs.Attribute({ type: OIDS.signingCertificateV2, values: [asn1js.fromBER(essDer).result] }),
  ]);
  const signedData = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OIDS.tstInfo, eContent: octets(tstDer) }),
    certificates: [cert],
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
  });
  await signedData.sign(req.tsaKey, 0, "SHA-256", undefined, engine);
  const contentInfo = new pkijs.ContentInfo({ contentType: OIDS.signedData, content: signedData.toSchema(true) });
  return { der: new Uint8Array(contentInfo.toSchema().toBER()), genTime, serial: normalizeSerial(serial) };
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
    const key = await importSigningKey(fromPem(files.keyPem, "PRIVATE KEY"));
    await assertKeyMatches(key, await cert.publicKey.export(), "TSA");
    return new TimeStampAuthority(certDer, key);
  }

  /** Time-stamps an image signature's value (G9): the imprint is SHA-256 of those bytes. */
  async stampSignature(signatureValue: Uint8Array, opts: { genTime?: Date; serial?: string } = {}): Promise<TimeStampToken> {
    return createTimeStampToken({ tsaCertDer: this.certDer, tsaKey: this.key, digest: await sha256(signatureValue), ...opts });
  }
}
