/** RSA key helpers: generation, PKCS#8 import for CA signing, and the one signature algorithm sis uses. */
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

/** Imports a PKCS#8 RSA key for signing only (a WebCrypto key is bound to one algorithm). */
export async function importSigningKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  return wrapAsync("BAD_CERT", "private key is not a valid PKCS#8 RSA key", () =>
    crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), SIGNING_ALGORITHM, false, ["sign"]),
  );
}

/** Proves a private key belongs to a public key by signing and verifying a fixed challenge. */
export async function assertKeyMatches(privateKey: CryptoKey, publicKey: CryptoKey, what = "CA"): Promise<void> {
  const challenge = new TextEncoder().encode("sis key pairing check");
  const sig = await crypto.subtle.sign(SIGNING_ALGORITHM, privateKey, challenge);
  if (!(await crypto.subtle.verify(SIGNING_ALGORITHM, publicKey, sig, challenge))) {
    throw new PkiError("BAD_CERT", `${what} private key does not match the ${what} certificate`);
  }
}
