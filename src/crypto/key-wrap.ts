/** Wraps and unwraps a content key with RSA-OAEP, SHA-256, MGF1-SHA-256 (ENVELOPE.md section 6), and tells a storage key's two kinds of wrap apart (W10). */
import { buf } from "./bytes.ts";
import { readCertificate } from "./certificate-info.ts";
import { isEcdhWrapped, unwrapKeyEcdh } from "./ecdh-wrap.ts";
import { EnvelopeError } from "./envelope-error.ts";
import { CONTENT_KEY_SIZE } from "./envelope-stream.ts";
import { pkcs8ImportMemo } from "./pkcs8-import-memo.ts";

const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
export const MIN_RSA_BITS = 2048;

function badKey(message: string): never {
  throw new EnvelopeError("BAD_KEY", message);
}

/** Wraps `contentKey` for the RSA key of the recipient's certificate (W1..W3). */
export async function wrapKey(contentKey: Uint8Array, recipientCertDer: Uint8Array): Promise<Uint8Array> {
  if (contentKey.length !== CONTENT_KEY_SIZE) badKey("content key is not 32 bytes");
  return wrapKeyWith(contentKey, await importWrapKey(recipientCertDer));
}

/** Wraps `contentKey` with a key from importWrapKey() (W1): a poster imports the server's key once per connection. */
export async function wrapKeyWith(contentKey: Uint8Array, publicKey: CryptoKey): Promise<Uint8Array> {
  if (contentKey.length !== CONTENT_KEY_SIZE) badKey("content key is not 32 bytes");
  return new Uint8Array(await crypto.subtle.encrypt(OAEP, publicKey, buf(contentKey)));
}

/** The recipient certificate's RSA key for wrapping, checked as W2..W3 require. */
export async function importWrapKey(recipientCertDer: Uint8Array): Promise<CryptoKey> {
  let publicKey: CryptoKey;
  try {
    const cert = readCertificate(recipientCertDer);
    if (!cert.rsa) badKey("recipient key is not RSA");
    publicKey = await crypto.subtle.importKey("spki", buf(cert.spki), OAEP, false, ["encrypt"]);
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    badKey("recipient certificate or key is unusable");
  }
  // A short modulus would make the wrap the weakest link; 2048 is the system's floor (ENVELOPE.md W2, docs/IMPLEMENTATION.md I5).
  const bits = (publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits < MIN_RSA_BITS) badKey(`recipient RSA key has ${bits} bits, fewer than ${MIN_RSA_BITS}`);
  return publicKey;
}

/** Imported once per key buffer (src/crypto/pkcs8-import-memo.ts), for OAEP-SHA-256 decryption only. */
const importOaepPrivateKey = pkcs8ImportMemo(OAEP, ["decrypt"]);

/**
 * Unwraps a content key with a PKCS#8 RSA private key (W4). Every failure is the same
 * BAD_KEY with the same message, so a caller that reports it leaks nothing about why.
 */
export async function unwrapKey(wrapped: Uint8Array, privateKeyPkcs8: Uint8Array): Promise<Uint8Array> {
  let key: Uint8Array;
  try {
    const privateKey = await importOaepPrivateKey(privateKeyPkcs8);
    key = new Uint8Array(await crypto.subtle.decrypt(OAEP, privateKey, buf(wrapped)));
  } catch {
    badKey("wrapped key does not unwrap");
  }
  if (key.length !== CONTENT_KEY_SIZE) badKey("wrapped key does not unwrap");
  return key;
}

/** A server's storage keys (W10): the RSA one every server has, and the P-256 one of a server that offers it. */
export interface StorageKeys {
  rsaPkcs8: Uint8Array;
  ecdhPkcs8: Uint8Array | null;
}

/** W10: a key wrapped for either storage key, told apart by its shape (W7 against W3). */
export function unwrapStorageKey(wrapped: Uint8Array, keys: StorageKeys): Promise<Uint8Array> {
  return isEcdhWrapped(wrapped) && keys.ecdhPkcs8 ? unwrapKeyEcdh(wrapped, keys.ecdhPkcs8) : unwrapKey(wrapped, keys.rsaPkcs8);
}
