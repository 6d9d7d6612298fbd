/** Client-side verification of another user's certificate against the pinned CA and its CRL. */
import { certInfo, singleCommonName } from "./cert-info.ts";
import { assertIssuedBy, assertValidAt } from "./chain.ts";
import { verifyCrl } from "./crl-verify.ts";
import { asPkiError, PkiError, wrapAsync } from "./errors.ts";
import { parseCertMemo, signerJudgementMemo, type SignerJudgement } from "./cert-memo.ts";
import { parseCert } from "./parse.ts";
import { revocationRefusal } from "./revocation.ts";
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

export interface VerifyUserCertOptions {
  certDer: Uint8Array;
  caCertDer: Uint8Array;
  crlDer?: Uint8Array;
  expectedUser?: string;
  /** The present: the CRL must be fresh now. */
  now?: Date;
  /**
   * The genTime of a verified time-stamp on the signature (verifyTimeStampToken), never a time
   * the signer chose. The certificate and the CA are then judged at that instant, and a
   * revocation by its date and reason (ENVELOPE.md V12, V13). Absent: judged at `now`.
   */
  signedAt?: Date;
}

/**
 * Checks, in order: the certificate chains to the pinned CA (issuer bytes and
 * signature), it is valid at `signedAt` (or `now`), a verified CRL that is
 * fresh at `now` does not refuse it (V13), it is an end-entity certificate
 * allowed to sign, and it names the expected owner. The first failure throws
 * a PkiError with its code.
 */
export async function verifyUserCert(opts: VerifyUserCertOptions): Promise<VerifiedUser> {
  // Safety net: every expected failure is already a PkiError; anything else a library throws
  // on hostile input (lazily parsed extensions, names) is reported as BAD_CERT, never raw.
  return wrapAsync("BAD_CERT", "certificate could not be read", () => verifyUnwrapped(opts));
}

async function verifyUnwrapped(opts: VerifyUserCertOptions): Promise<VerifiedUser> {
  const now = opts.now ?? new Date();
  const at = opts.signedAt ?? now;
  const stamped = opts.signedAt !== undefined;
  // A watcher judges the same signer for every image: what depends only on the two certificates'
  // bytes is done once (issuedBy is an RSA verification, the parse ~1-2 ms); the time and the
  // CRL are judged below at every call.
  const judged = await signerJudgementMemo(opts.certDer, opts.caCertDer, () => judge(opts.certDer, opts.caCertDer));

  assertValidAt({ notBefore: judged.notBefore, notAfter: judged.notAfter }, at, "certificate", stamped);
  assertValidAt({ notBefore: judged.caNotBefore, notAfter: judged.caNotAfter }, at, "CA certificate", stamped);
  const serial = judged.serial;
  if (opts.crlDer) {
    const entry = (await verifyCrl(opts.crlDer, opts.caCertDer, now)).entries.get(serial);
    const refusal = entry === undefined ? null : revocationRefusal(entry, opts.signedAt);
    if (refusal !== null) throw new PkiError("REVOKED", refusal);
  }
  if (judged.usage) throw judged.usage;
  const username = judged.username;
  if (typeof username !== "string") throw username;
  if (opts.expectedUser !== undefined && username !== opts.expectedUser) {
    throw new PkiError("WRONG_OWNER", `certificate belongs to ${JSON.stringify(username)}, not ${JSON.stringify(opts.expectedUser)}`);
  }
  return { username, serial, notAfter: judged.notAfter.getTime() };
}

/** What no clock or CRL changes; a certificate the CA did not sign throws (and is not remembered). */
async function judge(certDer: Uint8Array, caCertDer: Uint8Array): Promise<SignerJudgement> {
  const cert = parseCert(certDer);
  const ca = parseCertMemo(caCertDer); // the pinned CA: the same bytes for every image
  await assertIssuedBy(cert, ca);
  const verdict = <T>(fn: () => T): T | Error => {
    try {
      return fn();
    } catch (error) {
      return asPkiError(error, "BAD_CERT", "certificate could not be read");
    }
  };
  const usage = verdict(() => assertUserUsage(cert));
  return {
    serial: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    caNotBefore: ca.notBefore,
    caNotAfter: ca.notAfter,
    usage: usage instanceof Error ? usage : null, // assertUserUsage returns nothing when it passes
    username: verdict(() => singleCommonName(cert)),
  };
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
