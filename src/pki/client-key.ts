/** Client side of enrolment: a fresh RSA key and a PKCS#10 CSR signed with it. The private key never leaves the client. */
import { MAX_RSA_BITS, MIN_RSA_BITS } from "./csr.ts";
import { exportPkcs8, generateRsaKeyPair, SIGNING_ALGORITHM } from "./keys.ts";
import { x509 } from "./setup.ts";

export const DEFAULT_USER_BITS = 3072;

export async function createKeyAndCsr(opts: {
  username: string;
  bits?: number;
}): Promise<{ privateKeyPkcs8: Uint8Array; csrDer: Uint8Array }> {
  const bits = opts.bits ?? DEFAULT_USER_BITS;
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new RangeError(`RSA key size must be ${MIN_RSA_BITS}..${MAX_RSA_BITS} bits, got ${bits}`);
  }
  const keys = await generateRsaKeyPair(bits);
  // The CN is a courtesy for humans reading the CSR; the server sets the real subject itself.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name([{ CN: [opts.username] }]),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return { privateKeyPkcs8: await exportPkcs8(keys.privateKey), csrDer: new Uint8Array(csr.rawData) };
}

/**
 * A CSR signed with a key the client already holds (renewal without --rekey, RN3), and the
 * key's SubjectPublicKeyInfo DER, so the caller can check the certificate it gets back holds it.
 */
export async function createCsrForKey(opts: { username: string; privateKeyPkcs8: Uint8Array }): Promise<{ csrDer: Uint8Array; publicKeyDer: Uint8Array }> {
  const extractable = await crypto.subtle.importKey("pkcs8", new Uint8Array(opts.privateKeyPkcs8), SIGNING_ALGORITHM, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: jwk.alg, ext: true }, SIGNING_ALGORITHM, true, ["verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name([{ CN: [opts.username] }]),
    keys: { privateKey: extractable, publicKey },
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return { csrDer: new Uint8Array(csr.rawData), publicKeyDer: new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)) };
}

/** The SubjectPublicKeyInfo DER of a certificate, to compare with the key a client holds. */
export function certPublicKeyDer(certDer: Uint8Array): Uint8Array {
  return new Uint8Array(new x509.X509Certificate(new Uint8Array(certDer)).publicKey.rawData);
}
