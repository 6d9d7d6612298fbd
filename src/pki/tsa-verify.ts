/** Verifies an RFC 3161 time-stamp token on an image signature (ENVELOPE.md V11): pure, one code per failure. */
import { assertIssuedBy, assertTsaUsage, assertValidAt } from "./chain.ts";
import { verifyCrl } from "./crl-verify.ts";
import { sameBytes } from "../encoding/bytes.ts";
import { DerError } from "../encoding/der.ts";
import { ecdsaFromDer } from "./ecdsa-der.ts";
import { PkiError, wrapAsync, type PkiErrorCode } from "./errors.ts";
import { issuedByMemo, parseCertMemo, publicKeyMemo } from "./cert-memo.ts";
import { BACKDATE_MS } from "./profiles.ts";
import { COMPROMISE_REASONS } from "./revocation.ts";
import { normalizeSerial } from "./serial.ts";
import { sha256 } from "./tsa-token.ts";
import { OIDS } from "./tsa-oids.ts";
import { MAX_TIMESTAMP_TOKEN_SIZE, parseToken, type ParsedToken } from "./tsa-parse.ts";

export { MAX_TIMESTAMP_TOKEN_SIZE };

const MIN_RSA_BITS = 2048;
const RSA_PKCS1_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export interface VerifyTimeStampOptions {
  /** The TimeStampToken: DER of a ContentInfo (id-aa-signatureTimeStampToken's value, G8). */
  tokenDer: Uint8Array;
  /** The time-stamped bytes: the SignerInfo signature value of the image signature (G9). */
  signatureValue: Uint8Array;
  caCertDer: Uint8Array;
  /** When given, it must verify and be fresh at `now`, and it decides whether the TSA certificate was revoked. */
  crlDer?: Uint8Array;
  now?: Date;
}

export interface VerifiedTimeStamp {
  /** When the TSA saw the signature: pass it to verifyUserCert as signedAt (V12). */
  genTime: Date;
  /** The token's serial number, normalised hex. */
  serial: string;
  policy: string;
  tsaCertDer: Uint8Array;
  tsaSerial: string;
}

function fail(code: PkiErrorCode, message: string): never {
  throw new PkiError(code, message);
}

function malformed(message: string): never {
  fail("TIMESTAMP_MALFORMED", `time-stamp token ${message}`);
}

/** V11, in order: structure, signature, chain at genTime, TSA usage, TSA revocation, imprint. The first failure throws. */
export async function verifyTimeStampToken(opts: VerifyTimeStampOptions): Promise<VerifiedTimeStamp> {
  // Safety net: whatever a library throws on hostile bytes is TIMESTAMP_MALFORMED, never raw.
  return wrapAsync("TIMESTAMP_MALFORMED", "time-stamp token could not be read", () => verifyUnwrapped(opts));
}

async function assertSigned(p: ParsedToken): Promise<void> {
  const badSignature = (m: string): never => fail("TIMESTAMP_BAD_SIGNATURE", `time-stamp token ${m}`);
  if (p.ess.hashAlgorithm !== OIDS.sha256) malformed("ESSCertIDv2 hash is not SHA-256");
  if (p.digestAlgorithm !== OIDS.sha256) malformed("digest algorithm is not SHA-256");
  const sigAlg = p.signatureAlgorithm;
  const ecdsa = sigAlg === OIDS.ecdsaWithSHA256;
  if (!ecdsa && sigAlg !== OIDS.sha256WithRSAEncryption && sigAlg !== OIDS.rsaEncryption) malformed("signature is not RSA PKCS#1 v1.5 or ECDSA with SHA-256");

  if (!sameBytes(p.messageDigest, await sha256(p.tstDer))) badSignature("TSTInfo does not match its signed digest");
  if (!sameBytes(p.ess.hash, await sha256(p.signerDer))) badSignature("names another certificate than its signer's (ESSCertIDv2)");
  if (p.ess.serial !== null && !sameBytes(p.ess.serial, p.signerSerial)) badSignature("names another serial number than its signer's (ESSCertIDv2)");

  const cert = parseCertMemo(p.signerDer);
  // The key is imported as the signature algorithm says; a key of the other type does not import
  // (an RSA certificate under an ECDSA signature, or a curve other than P-256, is MALFORMED).
  const key = await publicKeyMemo(p.signerDer, ecdsa ? "ecdsa" : "rsa", () =>
    ecdsa
      ? crypto.subtle.importKey("spki", new Uint8Array(cert.publicKey.rawData), P256, false, ["verify"]).catch(() => malformed("signer key is not ECDSA P-256"))
      : crypto.subtle.importKey("spki", new Uint8Array(cert.publicKey.rawData), RSA_PKCS1_SHA256, false, ["verify"]).catch(() => malformed("signer key is not RSA")),
  );
  if (ecdsa) {
    let raw: Uint8Array;
    try {
      raw = ecdsaFromDer(p.signature);
    } catch (e) {
      if (e instanceof DerError) malformed(`ECDSA signature is not a DER Ecdsa-Sig-Value: ${e.message}`);
      throw e;
    }
    if (!(await crypto.subtle.verify(ECDSA_SHA256, key, new Uint8Array(raw), new Uint8Array(p.signedAttrs)))) badSignature("signature does not verify with its certificate");
    return;
  }
  if ((key.algorithm as RsaHashedKeyAlgorithm).modulusLength < MIN_RSA_BITS) malformed("signer key is shorter than 2048 bits");
  if (!(await crypto.subtle.verify(RSA_PKCS1_SHA256, key, new Uint8Array(p.signature), new Uint8Array(p.signedAttrs)))) badSignature("signature does not verify with its certificate");
}

async function verifyUnwrapped(opts: VerifyTimeStampOptions): Promise<VerifiedTimeStamp> {
  const now = opts.now ?? new Date();
  const parsed = parseToken(opts.tokenDer);
  await assertSigned(parsed);

  const genTime = parsed.genTime;
  const tsa = parseCertMemo(parsed.signerDer);
  const ca = parseCertMemo(opts.caCertDer);
  try {
    // Remembered by the exact bytes of both certificates: another TSA certificate runs the check afresh.
    await issuedByMemo(parsed.signerDer, opts.caCertDer, () => assertIssuedBy(tsa, ca));
    // A token cannot predate its own making; the allowance is the certificates' clock skew.
    if (genTime.getTime() > now.getTime() + BACKDATE_MS) fail("UNTRUSTED", `the token is dated in the future (${genTime.toISOString()})`);
    assertValidAt(tsa, genTime, "TSA certificate", true);
    assertValidAt(ca, genTime, "CA certificate", true);
  } catch (e) {
    if (e instanceof PkiError) fail("TIMESTAMP_UNTRUSTED", `time-stamp: ${e.message}`);
    throw e;
  }
  assertTsaUsage(tsa);

  const tsaSerial = normalizeSerial(tsa.serialNumber);
  if (opts.crlDer) {
    const entry = (await verifyCrl(opts.crlDer, opts.caCertDer, now)).entries.get(tsaSerial);
    // A TSA key that may be in other hands can write any genTime, so the invalidity date cannot save any token (V11).
    if (entry && ((entry.reason !== undefined && COMPROMISE_REASONS.has(entry.reason)) || genTime.getTime() >= entry.revokedAt)) {
      fail("TIMESTAMP_REVOKED", `time-stamping certificate was revoked (${entry.reason ?? "unspecified"}) on ${new Date(entry.revokedAt).toISOString()}`);
    }
  }

  if (!sameBytes(parsed.imprint, await sha256(opts.signatureValue))) {
    fail("TIMESTAMP_IMPRINT_MISMATCH", "time-stamp token is about another signature (message imprint mismatch)");
  }
  const serial = normalizeSerial(Buffer.from(parsed.serial).toString("hex"));
  return { genTime, serial, policy: parsed.policy, tsaCertDer: parsed.signerDer, tsaSerial };
}
