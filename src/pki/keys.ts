/** Key helpers: RSA generation, PKCS#8 import for CA and TSA signing, and the signature algorithms sis uses. */
import { PkiError, wrapAsync } from "./errors.ts";

/** Every certificate, CRL and CSR sis makes is signed RSASSA-PKCS1-v1_5 with SHA-256: what every verifier accepts. */
export const SIGNING_ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const RSA_GEN = { ...SIGNING_ALGORITHM, publicExponent: new Uint8Array([1, 0, 1]) };

export async function generateRsaKeyPair(bits: number): Promise<CryptoKeyPair> {
  // Extractable so the private key can be written out as PKCS#8 by the caller.
  return (await crypto.subtle.generateKey({ ...RSA_GEN, modulusLength: bits }, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function exportPkcs8(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", key));
}

/**
 * The time-stamping key (ENVELOPE.md G10) and the server's TLS key (PROTOCOL.md P29a) made from
 * now on: ECDSA P-256 with SHA-256 signs in ~0.06 ms against ~3.2 ms for RSA 3072 at the same
 * strength (about 128 bits); the server makes one token per image (bench/README.md, "the
 * album's CPU") and one TLS signature per connection. RSA keys of existing data directories
 * keep working (importTsaSigningKey; TLS loads either).
 */
export const P256_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
export const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(P256_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** The signature parameters of a signing key: RSASSA-PKCS1-v1_5 or ECDSA, both with SHA-256. */
export function signatureParamsOf(key: CryptoKey): typeof SIGNING_ALGORITHM | typeof ECDSA_SHA256 {
  return key.algorithm.name === "ECDSA" ? ECDSA_SHA256 : SIGNING_ALGORITHM;
}

/** A TSA's PKCS#8 key: RSA (data directories made before P-256, G10) or ECDSA P-256. */
export async function importTsaSigningKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), SIGNING_ALGORITHM, false, ["sign"]);
  } catch {
    return wrapAsync("BAD_CERT", "private key is not a valid PKCS#8 RSA or P-256 key", () =>
      crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), P256_ALGORITHM, false, ["sign"]),
    );
  }
}

/** Imports a PKCS#8 RSA key for signing only (a WebCrypto key is bound to one algorithm). */
export async function importSigningKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  return wrapAsync("BAD_CERT", "private key is not a valid PKCS#8 RSA key", () =>
    crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), SIGNING_ALGORITHM, false, ["sign"]),
  );
}

/** Proves a private key belongs to a public key by signing and verifying a fixed challenge. */
export async function assertKeyMatches(privateKey: CryptoKey, publicKey: CryptoKey, what = "CA"): Promise<void> {
  const challenge = new TextEncoder().encode("sis key pairing check");
  const params = signatureParamsOf(privateKey);
  // A key of another type than the certificate's does not match either (verify throws on the mix).
  const matches = privateKey.algorithm.name === publicKey.algorithm.name && (await crypto.subtle.verify(params, publicKey, await crypto.subtle.sign(params, privateKey, challenge), challenge));
  if (!matches) {
    throw new PkiError("BAD_CERT", `${what} private key does not match the ${what} certificate`);
  }
}
