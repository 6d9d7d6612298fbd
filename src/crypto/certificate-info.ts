/** Reads the few fields of an X.509 certificate that signing, verifying and key wrap need. */
import { OID } from "./cms-oids.ts";
import { sameBytes } from "../encoding/bytes.ts";
import { DerError, TAG, at, children, parseDer, readTlv, type Tlv } from "../encoding/der.ts";
import { decodeTime } from "./der-time.ts";

export interface CertificateInfo {
  /** The certificate's exact DER. */
  der: Uint8Array;
  /** The issuer Name, whole element. */
  issuer: Uint8Array;
  /** The serial number INTEGER's content octets. */
  serial: Uint8Array;
  /** SubjectPublicKeyInfo, whole element, for WebCrypto "spki" import. */
  spki: Uint8Array;
  /** True if the key algorithm is rsaEncryption. */
  rsa: boolean;
  /** The subjectKeyIdentifier's key id, if present. */
  subjectKeyId: Uint8Array | null;
  /** Every commonName of the subject, decoded (undecodable string types are skipped). */
  commonNames: string[];
  /** The validity period, Unix milliseconds (DER UTCTime / GeneralizedTime). */
  notBefore: number;
  notAfter: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf16be = new TextDecoder("utf-16be", { fatal: true, ignoreBOM: true });

function directoryString(value: Tlv): string | null {
  try {
    if (value.tag === TAG.UTF8_STRING || value.tag === TAG.PRINTABLE_STRING || value.tag === TAG.IA5_STRING) {
      return utf8.decode(value.content);
    }
    if (value.tag === TAG.BMP_STRING) return utf16be.decode(value.content);
  } catch {
    return null;
  }
  return null;
}

function commonNames(subject: Tlv): string[] {
  const names: string[] = [];
  for (const rdn of children(subject, TAG.SEQUENCE)) {
    for (const atv of children(rdn, TAG.SET)) {
      const [type, value] = children(atv, TAG.SEQUENCE);
      if (type === undefined || value === undefined || !sameBytes(type.bytes, OID.commonName)) continue;
      const text = directoryString(value);
      names.push(text ?? "\u0000undecodable"); // counted, never equal to a valid owner
    }
  }
  return names;
}

function subjectKeyId(extensions: Tlv | undefined): Uint8Array | null {
  if (extensions === undefined) return null;
  for (const ext of children(at(children(extensions, TAG.CONTEXT_3), 0, TAG.SEQUENCE))) {
    const parts = children(ext, TAG.SEQUENCE);
    if (!sameBytes(at(parts, 0, TAG.OID).bytes, OID.subjectKeyIdentifier)) continue;
    const wrapper = at(parts, parts.length - 1, TAG.OCTET_STRING);
    const keyId = readTlv(wrapper.content, 0);
    if (keyId.tag !== TAG.OCTET_STRING || keyId.bytes.length !== wrapper.content.length) throw new DerError("bad SKI");
    return keyId.content;
  }
  return null;
}

/** Parses a DER certificate; throws DerError if it is not one. */
export function readCertificate(der: Uint8Array): CertificateInfo {
  const cert = children(parseDer(der), TAG.SEQUENCE);
  const tbs = children(at(cert, 0, TAG.SEQUENCE));
  let i = tbs[0]?.tag === TAG.CONTEXT_0 ? 1 : 0; // optional [0] version
  const serial = at(tbs, i++, TAG.INTEGER).content;
  at(tbs, i++, TAG.SEQUENCE); // signature algorithm
  const issuer = at(tbs, i++, TAG.SEQUENCE).bytes;
  const validity = children(at(tbs, i++, TAG.SEQUENCE));
  const subject = at(tbs, i++, TAG.SEQUENCE);
  const spki = at(tbs, i++, TAG.SEQUENCE);
  const algorithm = at(children(at(children(spki), 0, TAG.SEQUENCE)), 0, TAG.OID);
  const extensions = tbs.slice(i).find((t) => t.tag === TAG.CONTEXT_3);
  return {
    der,
    issuer,
    serial,
    spki: spki.bytes,
    rsa: sameBytes(algorithm.bytes, OID.rsaEncryption),
    subjectKeyId: subjectKeyId(extensions),
    commonNames: commonNames(subject),
    notBefore: decodeTime(at(validity, 0)).getTime(),
    notAfter: decodeTime(at(validity, 1)).getTime(),
  };
}
