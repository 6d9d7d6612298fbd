/** P11: the storage certificate a client wraps image keys for must come from the pinned CA. */
import { x509 } from "../pki/setup.ts";
import { TrustError } from "./errors.ts";

export async function verifyStorageCert(certDer: Uint8Array, caDer: Uint8Array): Promise<void> {
  try {
    const cert = new x509.X509Certificate(certDer as Uint8Array<ArrayBuffer>);
    const ca = new x509.X509Certificate(caDer as Uint8Array<ArrayBuffer>);
    const now = new Date();
    const issued = cert.issuer === ca.subject && (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }));
    if (issued && cert.notBefore <= now && now <= cert.notAfter) return;
  } catch {
    // fall through to the refusal
  }
  throw new TrustError("storage-certificate", "the server's storage certificate is not issued by the pinned CA; refusing to wrap a key for it");
}
