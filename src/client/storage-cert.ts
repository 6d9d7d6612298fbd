/** P11: the storage certificate a client wraps image keys for must come from the pinned CA. */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { importEcdhWrapKey, importWrapKey, wrapKeyEcdh, wrapKeyWith } from "../crypto/index.ts";
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

/** Wraps a content key for the server's storage key. */
export type StorageWrap = (contentKey: Uint8Array) => Promise<Uint8Array>;

const storageWraps = new WeakMap<Connection, Promise<StorageWrap>>();

/**
 * How `conn`'s images have their keys wrapped: for the P-256 storage certificate of a version-5
 * HELLO by key agreement (P11a, ENVELOPE.md W6), else for the RSA one with RSA-OAEP. The
 * certificate is checked against the pinned CA (P11) and its key imported once per connection,
 * however many images are posted over it.
 */
export function storageWrapOf(conn: Connection, creds: Pick<Credentials, "caDer" | "homeDir">): Promise<StorageWrap> {
  let wrap = storageWraps.get(conn);
  if (!wrap) {
    const ecdh = conn.hello.storageEcdhCertificate;
    const der = fromBase64(ecdh ?? conn.hello.storageCertificate);
    wrap = verifyStorageCert(der, creds.caDer, creds.homeDir).then(async (): Promise<StorageWrap> => {
      if (ecdh !== undefined) {
        const key = await importEcdhWrapKey(der);
        return (contentKey) => wrapKeyEcdh(contentKey, key);
      }
      const key = await importWrapKey(der);
      return (contentKey) => wrapKeyWith(contentKey, key);
    });
    storageWraps.set(conn, wrap);
    wrap.catch(() => storageWraps.delete(conn)); // a failure is said to each post, not remembered
  }
  return wrap;
}
