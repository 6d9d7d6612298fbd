/** P11: the storage certificate a client wraps image keys for must come from the pinned CA. */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { importWrapKey } from "../crypto/index.ts";
import { fromBase64 } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { TrustError } from "./errors.ts";
import { writeFileAtomic, type Credentials } from "./home.ts";

/**
 * A certificate verified once is remembered in the client home, bound to the
 * pinned CA and to its expiry, so later posts skip loading the X.509 library.
 * Only this user can write the home (it also holds the private key and the
 * pinned CA), so the record is as trustworthy as the pin itself.
 */
const CACHE_FILE = "storage-cert.verified";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export async function verifyStorageCert(certDer: Uint8Array, caDer: Uint8Array, homeDir?: string): Promise<void> {
  const key = `${sha256(certDer)} ${sha256(caDer)}`;
  const cache = homeDir ? join(homeDir, CACHE_FILE) : null;
  if (cache) {
    const [hashes, notAfter] = ((await readFile(cache, "utf8").catch(() => "")).trim().split("\t") as [string?, string?]);
    if (hashes === key && Date.now() <= Number(notAfter)) return;
  }
  const notAfter = await verifyIssued(certDer, caDer);
  if (cache) await writeFileAtomic(cache, `${key}\t${notAfter}\n`, 0o600).catch(() => {});
}

/** Issued by the CA and within its validity; returns its notAfter (ms). */
async function verifyIssued(certDer: Uint8Array, caDer: Uint8Array): Promise<number> {
  try {
    const { x509 } = await import("../pki/setup.ts");
    const cert = new x509.X509Certificate(certDer as Uint8Array<ArrayBuffer>);
    const ca = new x509.X509Certificate(caDer as Uint8Array<ArrayBuffer>);
    const now = new Date();
    const issued = cert.issuer === ca.subject && (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }));
    if (issued && cert.notBefore <= now && now <= cert.notAfter) return cert.notAfter.getTime();
  } catch {
    // fall through to the refusal
  }
  throw new TrustError("storage-certificate", "the server's storage certificate is not issued by the pinned CA; refusing to wrap a key for it");
}

const storageKeys = new WeakMap<Connection, Promise<CryptoKey>>();

/**
 * The storage certificate of `conn`'s HELLO, checked against the pinned CA (P11), and its RSA key
 * imported for wrapping: once per connection, however many images are posted over it.
 */
export function storageKeyOf(conn: Connection, creds: Pick<Credentials, "caDer" | "homeDir">): Promise<CryptoKey> {
  let key = storageKeys.get(conn);
  if (!key) {
    const der = fromBase64(conn.hello.storageCertificate);
    key = verifyStorageCert(der, creds.caDer, creds.homeDir).then(() => importWrapKey(der));
    storageKeys.set(conn, key);
    key.catch(() => storageKeys.delete(conn)); // a failure is said to each post, not remembered
  }
  return key;
}
