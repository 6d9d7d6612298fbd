/** Object identifiers of the signature profile (ENVELOPE.md section 4), DER-encoded once. */
import { oid } from "../encoding/der.ts";

export const OID = {
  data: oid("1.2.840.113549.1.7.1"),
  signedData: oid("1.2.840.113549.1.7.2"),
  contentType: oid("1.2.840.113549.1.9.3"),
  messageDigest: oid("1.2.840.113549.1.9.4"),
  signingTime: oid("1.2.840.113549.1.9.5"),
  /** id-aa-contentHint (RFC 2634): carries the owner/name/content-type binding (G5, G6). */
  contentHint: oid("1.2.840.113549.1.9.16.2.4"),
  /** id-aa-signatureTimeStampToken (RFC 3161 appendix A): the unsigned attribute carrying the server's token (G8). */
  signatureTimeStampToken: oid("1.2.840.113549.1.9.16.2.14"),
  sha256: oid("2.16.840.1.101.3.4.2.1"),
  rsaEncryption: oid("1.2.840.113549.1.1.1"),
  sha256WithRSAEncryption: oid("1.2.840.113549.1.1.11"),
  commonName: oid("2.5.4.3"),
  subjectKeyIdentifier: oid("2.5.29.14"),
} as const;
