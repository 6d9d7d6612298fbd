/** Public API of the PKI layer: CA issuance, CSR checks, certificate and CRL verification, encodings. */
export { createCa, CertificateAuthority, type CaFiles, type IssuedCert } from "./ca.ts";
export { createKeyAndCsr, DEFAULT_USER_BITS } from "./client-key.ts";
export { checkCsr, MIN_RSA_BITS, MAX_RSA_BITS } from "./csr.ts";
export { PkiError, type PkiErrorCode } from "./errors.ts";
export { fingerprint, normalizeFingerprint } from "./fingerprint.ts";
export { fromPem, toPem, type PemLabel } from "./pem.ts";
export { normalizeSerial, randomSerial } from "./serial.ts";
export { certInfo, verifyCrl, verifyUserCert, type VerifiedUser } from "./verify.ts";
export { type VerifiedCrl } from "./crl-verify.ts";
export { type CertInfo } from "./cert-info.ts";
export { MAX_CERT_BYTES, MAX_CRL_BYTES, MAX_CSR_BYTES } from "./parse.ts";
