/** PEM armour with the labels OpenSSL expects ("X509 CRL", not "CRL"). */
import { PkiError } from "./errors.ts";

export type PemLabel = "CERTIFICATE" | "PRIVATE KEY" | "X509 CRL" | "CERTIFICATE REQUEST";

export function toPem(der: Uint8Array, label: PemLabel): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first block labelled `label`; other blocks (and text around them) are skipped. */
export function fromPem(pem: string, label: string): Uint8Array {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = pem.indexOf(begin);
  const stop = start < 0 ? -1 : pem.indexOf(end, start + begin.length);
  if (start < 0 || stop < 0) throw new PkiError("BAD_CERT", `no ${label} PEM block found`);
  const body = pem.slice(start + begin.length, stop).replace(/\s+/g, "");
  // Strict alphabet: Buffer.from(…, "base64") silently skips junk, which would hide corruption.
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw new PkiError("BAD_CERT", `${label} PEM block is not valid base64`);
  }
  return new Uint8Array(Buffer.from(body, "base64"));
}
