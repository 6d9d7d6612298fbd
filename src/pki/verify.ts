/** Client-side verification of another user's certificate against the pinned CA and its CRL. */
import { certInfo, sameName, singleCommonName } from "./cert-info.ts";
import { ACCEPTED_HASHES, verifyCrl } from "./crl-verify.ts";
import { PkiError, wrapAsync } from "./errors.ts";
import { parseCert } from "./parse.ts";
import { normalizeSerial } from "./serial.ts";
import { x509 } from "./setup.ts";

export { certInfo, verifyCrl };

/** Extensions this verifier understands; any other extension marked critical makes the certificate unusable (RFC 5280 4.2). */
const KNOWN_CERT_EXTENSIONS = new Set(["2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.35", "2.5.29.37"]);

export interface VerifiedUser {
  username: string;
  serial: string;
  notAfter: number;
}

/**
 * Checks, in order: the certificate chains to the pinned CA (issuer bytes and
 * signature), it is valid at `now`, it is not revoked on a verified, fresh
 * CRL, it is an end-entity certificate allowed to sign, and it names the
 * expected owner. The first failure throws a PkiError with its code.
 */
export async function verifyUserCert(opts: {
  certDer: Uint8Array;
  caCertDer: Uint8Array;
  crlDer?: Uint8Array;
  expectedUser?: string;
  now?: Date;
}): Promise<VerifiedUser> {
  // Safety net: every expected failure is already a PkiError; anything else a library throws
  // on hostile input (lazily parsed extensions, names) is reported as BAD_CERT, never raw.
  return wrapAsync("BAD_CERT", "certificate could not be read", () => verifyUnwrapped(opts));
}

async function verifyUnwrapped(opts: {
  certDer: Uint8Array;
  caCertDer: Uint8Array;
  crlDer?: Uint8Array;
  expectedUser?: string;
  now?: Date;
}): Promise<VerifiedUser> {
  const now = opts.now ?? new Date();
  const cert = parseCert(opts.certDer);
  const ca = parseCert(opts.caCertDer);

  await assertIssuedBy(cert, ca);
  assertValidAt(cert, now, "certificate");
  assertValidAt(ca, now, "CA certificate");
  const serial = normalizeSerial(cert.serialNumber);
  if (opts.crlDer) {
    const { revokedSerials } = await verifyCrl(opts.crlDer, opts.caCertDer, now);
    if (revokedSerials.has(serial)) throw new PkiError("REVOKED", "certificate has been revoked");
  }
  assertUserUsage(cert);

  const username = singleCommonName(cert);
  if (opts.expectedUser !== undefined && username !== opts.expectedUser) {
    throw new PkiError("WRONG_OWNER", `certificate belongs to ${JSON.stringify(username)}, not ${JSON.stringify(opts.expectedUser)}`);
  }
  return { username, serial, notAfter: cert.notAfter.getTime() };
}

async function assertIssuedBy(cert: x509.X509Certificate, ca: x509.X509Certificate): Promise<void> {
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

function assertValidAt(cert: x509.X509Certificate, now: Date, what: string): void {
  const t = now.getTime();
  if (t < cert.notBefore.getTime()) throw new PkiError("NOT_YET_VALID", `${what} is not valid yet`);
  if (t > cert.notAfter.getTime()) throw new PkiError("EXPIRED", `${what} has expired`);
}

function assertUserUsage(cert: x509.X509Certificate): void {
  for (const ext of cert.extensions) {
    if (ext.critical && !KNOWN_CERT_EXTENSIONS.has(ext.type)) throw new PkiError("BAD_CERT", `unsupported critical extension ${ext.type}`);
  }
  // A CA certificate must never stand in for a user, even one the pinned CA signed.
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) throw new PkiError("BAD_USAGE", "a CA certificate cannot sign images");
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!ku || (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    throw new PkiError("BAD_USAGE", "certificate is not allowed to make signatures (keyUsage)");
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  if (!eku.includes(x509.ExtendedKeyUsage.emailProtection) && !eku.includes(x509.ExtendedKeyUsage.clientAuth)) {
    throw new PkiError("BAD_USAGE", "certificate is not a user certificate (extendedKeyUsage)");
  }
}
