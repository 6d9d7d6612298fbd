/** The chain checks shared by user and time-stamping certificates: issued by the pinned CA, valid at an instant, a TSA's usage. */
import { sameName } from "./cert-info.ts";
import { ACCEPTED_HASHES } from "./crl-verify.ts";
import { PkiError, wrapAsync, type PkiErrorCode } from "./errors.ts";
import { x509 } from "./setup.ts";

const TIME_STAMPING = "1.3.6.1.5.5.7.3.8";
const ALLOWED_TSA_KEY_USAGE = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
/** Certificate extensions understood here; any other critical one makes the certificate unusable as a TSA. */
const KNOWN_TSA_EXTENSIONS = new Set(["2.5.29.14", "2.5.29.15", "2.5.29.19", "2.5.29.35", "2.5.29.37"]);

/** The pinned certificate is a CA allowed to sign certificates, and it signed `cert` (issuer bytes and signature). */
export async function assertIssuedBy(cert: x509.X509Certificate, ca: x509.X509Certificate): Promise<void> {
  // The anchor itself must be a CA allowed to sign certificates: a user certificate passed by
  // mistake as "the CA" must not let its holder vouch for others.
  const ku = ca.getExtension(x509.KeyUsagesExtension);
  if (!ca.getExtension(x509.BasicConstraintsExtension)?.ca || (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0)) {
    throw new PkiError("UNTRUSTED", "the pinned certificate is not a CA certificate");
  }
  if (!sameName(cert.issuerName, ca.subjectName)) throw new PkiError("UNTRUSTED", "certificate was not issued by the pinned CA");
  if (!ACCEPTED_HASHES.has(cert.signatureAlgorithm.hash?.name ?? "")) {
    throw new PkiError("UNTRUSTED", "certificate signature algorithm is not accepted");
  }
  const ok = await wrapAsync("UNTRUSTED", "certificate signature could not be checked", () =>
    cert.verify({ publicKey: ca.publicKey, signatureOnly: true }),
  );
  if (!ok) throw new PkiError("UNTRUSTED", "certificate signature does not verify with the pinned CA key");
}

/**
 * `cert` is within its validity period at `at`: the present, or with `stamped` a time-stamp's
 * genTime (ENVELOPE.md V12), and the message says which.
 */
export function assertValidAt(cert: Pick<x509.X509Certificate, "notBefore" | "notAfter">, at: Date, what: string, stamped = false): void {
  const t = at.getTime();
  const when = stamped ? ` at its time-stamp (${at.toISOString()})` : "";
  if (t < cert.notBefore.getTime()) throw new PkiError("NOT_YET_VALID", `${what} ${stamped ? "was" : "is"} not valid yet${when}`);
  if (t > cert.notAfter.getTime()) throw new PkiError("EXPIRED", `${what} ${stamped ? "had" : "has"} expired${when}`);
}

/** ENVELOPE.md G10, V11 step 4: an end-entity certificate whose only purpose is time-stamping (RFC 3161 2.3). */
export function assertTsaUsage(cert: x509.X509Certificate, code: PkiErrorCode = "TIMESTAMP_NOT_TSA"): void {
  const notTsa = (m: string): never => {
    throw new PkiError(code, `time-stamp signer ${m}`);
  };
  for (const ext of cert.extensions) if (ext.critical && !KNOWN_TSA_EXTENSIONS.has(ext.type)) notTsa(`has an unsupported critical extension ${ext.type}`);
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) notTsa("is a CA certificate");
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku || !eku.critical || eku.usages.length !== 1 || eku.usages[0] !== TIME_STAMPING) {
    notTsa("is not a time-stamping certificate (extendedKeyUsage must be timeStamping alone, critical)");
  }
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!ku || (ku.usages & ALLOWED_TSA_KEY_USAGE) === 0 || (ku.usages & ~ALLOWED_TSA_KEY_USAGE) !== 0) notTsa("has a keyUsage other than digitalSignature/nonRepudiation");
}
