/** Bounded parsing of untrusted DER: size checked before the parser runs, every parser error becomes a PkiError. */
import { isStrictDer } from "../encoding/der.ts";
import { hasStrictSignedWrapper } from "./signed-wrapper.ts";
import { PkiError, wrapSync } from "./errors.ts";
import { x509 } from "./setup.ts";

/** A CSR or certificate is a few KiB; anything bigger is refused before any ASN.1 is read. */
export const MAX_CSR_BYTES = 16 * 1024;
export const MAX_CERT_BYTES = 16 * 1024;
/** A CRL grows with revocations (~40 bytes each); 4 MiB is ~100k entries. */
export const MAX_CRL_BYTES = 4 * 1024 * 1024;
const CRL_BER_LIMITS = { maxNodes: 500_000, maxContentLength: MAX_CRL_BYTES };

export function parseCsr(der: Uint8Array): x509.Pkcs10CertificateRequest {
  if (der.byteLength > MAX_CSR_BYTES) throw new PkiError("BAD_CSR", `CSR is larger than ${MAX_CSR_BYTES} bytes`);
  if (!isStrictDer(der) || !hasStrictSignedWrapper(der, false)) throw new PkiError("BAD_CSR", "CSR is not well-formed DER");
  return wrapSync("BAD_CSR", "CSR is not a valid PKCS#10 request", () => {
    const csr = new x509.Pkcs10CertificateRequest(copy(der));
    void csr.publicKey; // force the lazily parsed parts now, inside the wrapper
    void csr.subject;
    return csr;
  });
}

export function parseCert(der: Uint8Array): x509.X509Certificate {
  if (der.byteLength > MAX_CERT_BYTES) throw new PkiError("BAD_CERT", `certificate is larger than ${MAX_CERT_BYTES} bytes`);
  if (!isStrictDer(der) || !hasStrictSignedWrapper(der, true)) throw new PkiError("BAD_CERT", "certificate is not well-formed DER");
  return wrapSync("BAD_CERT", "not a valid X.509 certificate", () => {
    const cert = new x509.X509Certificate(copy(der));
    void cert.publicKey;
    void cert.extensions;
    void cert.subject;
    void cert.issuer;
    return cert;
  });
}

export function parseCrl(der: Uint8Array): x509.X509Crl {
  if (der.byteLength > MAX_CRL_BYTES) throw new PkiError("BAD_CRL", `CRL is larger than ${MAX_CRL_BYTES} bytes`);
  if (!isStrictDer(der, CRL_BER_LIMITS.maxNodes) || !hasStrictSignedWrapper(der, true)) {
    throw new PkiError("BAD_CRL", "CRL is not well-formed DER");
  }
  return wrapSync("BAD_CRL", "not a valid X.509 CRL", () => {
    const crl = new x509.X509Crl(copy(der), { berOptions: CRL_BER_LIMITS });
    void crl.entries;
    void crl.extensions;
    void crl.issuer;
    return crl;
  });
}

/** A plain ArrayBuffer-backed copy, so callers' views over larger buffers never confuse the parser. */
function copy(der: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(der);
}

/** The bytes of a parsed object's DER encoding as a Uint8Array. */
export function rawBytes(obj: { rawData: ArrayBuffer }): Uint8Array {
  return new Uint8Array(obj.rawData);
}
