/** Public API of the PKI layer: CA issuance, CSR checks, certificate and CRL verification, time-stamps, encodings. */
export { createCa, CertificateAuthority, type CaFiles, type IssuedCert } from "./ca.ts";
export { certPublicKeyDer, createCsrForKey, createKeyAndCsr, DEFAULT_USER_BITS } from "./client-key.ts";
export { checkCsr, MIN_RSA_BITS, MAX_RSA_BITS } from "./csr.ts";
export { PkiError, type PkiErrorCode } from "./errors.ts";
export { fingerprint, normalizeFingerprint } from "./fingerprint.ts";
export { fromPem, toPem, type PemLabel } from "./pem.ts";
export { normalizeSerial, randomSerial } from "./serial.ts";
export { certInfo, verifyCrl, verifyUserCert, type VerifiedUser, type VerifyUserCertOptions } from "./verify.ts";
export { type VerifiedCrl } from "./crl-verify.ts";
export { type CertInfo } from "./cert-info.ts";
export { MAX_CERT_BYTES, MAX_CRL_BYTES, MAX_CSR_BYTES } from "./parse.ts";
export { CRL_REASONS, revocationRefusal, type CrlReason, type RevocationEntry } from "./revocation.ts";
export { type CrlRequest } from "./crl.ts";
export { createTimeStampToken, sha256, TimeStampAuthority, type TimeStampRequest, type TimeStampToken } from "./tsa-token.ts";
export { MAX_TIMESTAMP_TOKEN_SIZE, verifyTimeStampToken, type VerifiedTimeStamp, type VerifyTimeStampOptions } from "./tsa-verify.ts";
export { SIS_TSA_POLICY_OID } from "./tsa-oids.ts";
export { tokenNotUsed, verifySignerAtTimeStamp, type SignerAtTimeOptions, type SignerVerdict } from "./signer-at-time.ts";
