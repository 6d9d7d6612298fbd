/** Display facts about a certificate (whoami, admin listings): no trust decision is made here. */
import { readCertificate } from "../crypto/index.ts";
import { toHex } from "../encoding/bytes.ts";
import { PkiError, wrapSync } from "./errors.ts";
import { parseCert } from "./parse.ts";
import { normalizeSerial } from "./serial.ts";
import type { x509 } from "./setup.ts";

export interface CertInfo {
  subjectCn: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  issuer: string;
  subject: string;
}

/**
 * The fields come from the one certificate field reader (src/crypto/certificate-info.ts);
 * @peculiar/x509 only renders the issuer and subject names as text for display.
 */
export function certInfo(der: Uint8Array): CertInfo {
  const cert = parseCert(der);
  return wrapSync("BAD_CERT", "certificate could not be read", () => {
    const fields = readCertificate(der);
    return {
      subjectCn: fields.commonNames[0] ?? "",
      serial: normalizeSerial(toHex(fields.serial)),
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      issuer: cert.issuer,
      subject: cert.subject,
    };
  });
}

/** The single subject CN; a certificate with none or several names no user. */
export function singleCommonName(cert: x509.X509Certificate): string {
  const cns = cert.subjectName.getField("CN");
  if (cns.length !== 1 || !cns[0]) throw new PkiError("BAD_CERT", "certificate must name exactly one common name");
  return cns[0];
}

/** Byte equality of two encoded names: the issuer field must be the CA's subject exactly. */
export function sameName(a: x509.Name, b: x509.Name): boolean {
  return Buffer.from(a.toArrayBuffer()).equals(Buffer.from(b.toArrayBuffer()));
}
