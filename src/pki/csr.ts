/** Checks a PKCS#10 CSR: size, structure, RSA key size, proof of possession. Its subject and extensions are ignored. */
import { PkiError, wrapAsync } from "./errors.ts";
import { parseCsr, rawBytes } from "./parse.ts";

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

const ACCEPTED_SIGNATURES = new Set(["RSASSA-PKCS1-v1_5", "RSA-PSS"]);
// SHA-1 and MD5 signatures are refused: a CSR signed with them may be the product of a collision.
const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

export interface CheckedCsr {
  /** SubjectPublicKeyInfo DER of the requester's key: the only thing the CA takes from the CSR. */
  publicKeyDer: Uint8Array;
  bits: number;
}

export async function checkCsr(
  csrDer: Uint8Array,
  opts: { minBits?: number; maxBits?: number } = {},
): Promise<CheckedCsr> {
  // Safety net: anything a library throws on hostile input becomes BAD_CSR, never a raw error.
  return wrapAsync("BAD_CSR", "CSR could not be read", () => checkUnwrapped(csrDer, opts));
}

async function checkUnwrapped(csrDer: Uint8Array, opts: { minBits?: number; maxBits?: number }): Promise<CheckedCsr> {
  const minBits = Math.max(opts.minBits ?? MIN_RSA_BITS, MIN_RSA_BITS);
  const maxBits = opts.maxBits ?? MAX_RSA_BITS;
  const csr = parseCsr(csrDer);

  const key = csr.publicKey.algorithm as Partial<RsaHashedKeyAlgorithm>;
  if (key.name !== "RSASSA-PKCS1-v1_5" || typeof key.modulusLength !== "number") {
    throw new PkiError("BAD_CSR", "only RSA keys are accepted");
  }
  const bits = key.modulusLength;
  // Size is checked before the signature: verifying with an oversized key is the expensive step.
  if (bits < minBits) throw new PkiError("WEAK_KEY", `RSA key has ${bits} bits; at least ${minBits} are required`);
  if (bits > maxBits) throw new PkiError("BAD_CSR", `RSA key has ${bits} bits; at most ${maxBits} are accepted`);
  if (!acceptableExponent(key.publicExponent)) throw new PkiError("WEAK_KEY", "RSA public exponent is not acceptable");

  const sig = csr.signatureAlgorithm;
  if (!ACCEPTED_SIGNATURES.has(sig.name) || !ACCEPTED_HASHES.has(sig.hash?.name ?? "")) {
    throw new PkiError("BAD_CSR", "CSR signature algorithm is not accepted (use RSA with SHA-256 or stronger)");
  }
  // Proof of possession: the requester signed the request with the private key of the key being certified.
  const ok = await wrapAsync("BAD_CSR", "CSR signature could not be checked", () => csr.verify());
  if (!ok) throw new PkiError("BAD_CSR", "CSR signature does not match its public key (no proof of possession)");

  return { publicKeyDer: rawBytes(csr.publicKey), bits };
}

/** Odd, at least 3, at most 32 bits: what every RSA implementation handles (65537 in practice). */
function acceptableExponent(e: Uint8Array | undefined): boolean {
  if (!e || e.length === 0) return false;
  let i = 0;
  while (i < e.length - 1 && e[i] === 0) i++;
  const bytes = e.subarray(i);
  if (bytes.length > 4) return false;
  const value = bytes.reduce((acc, b) => acc * 256 + b, 0);
  return value >= 3 && value % 2 === 1;
}
