/**
 * Imported private keys, per PKCS#8 buffer: `sis post DIR` signs every image with one key, the
 * server unwraps every upload's content key with its one storage key and a watcher every image's
 * with its own, and an RSA PKCS#8 import costs 0.23 ms (2048 bits) to ~2.5 ms an operation
 * (bench/README.md, "Performance, second round" and "the album's CPU"). Keyed by the buffer
 * object, and used only while its bytes are still those imported (a caller that reuses or wipes
 * the buffer gets a fresh import); a failed import is not remembered.
 */
import { buf } from "./bytes.ts";

/** An importer for one algorithm and use: a WebCrypto key is bound to both. */
export function pkcs8ImportMemo(algorithm: RsaHashedImportParams | EcKeyImportParams, usages: KeyUsage[]): (pkcs8: Uint8Array) => Promise<CryptoKey> {
  const imported = new WeakMap<Uint8Array, { bytes: Buffer; key: CryptoKey }>();
  return async (pkcs8) => {
    const hit = imported.get(pkcs8);
    if (hit && hit.bytes.equals(pkcs8)) return hit.key;
    const key = await crypto.subtle.importKey("pkcs8", buf(pkcs8), algorithm, false, usages);
    imported.set(pkcs8, { bytes: Buffer.from(pkcs8), key });
    return key;
  };
}
