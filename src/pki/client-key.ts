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
