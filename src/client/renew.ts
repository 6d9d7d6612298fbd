/** Renewal of the user's certificate (RN1–RN7): when it is due, the RENEW exchange, and the home updated atomically. */
import { certInfo, certPublicKeyDer, createCsrForKey, createKeyAndCsr, fingerprint, fromPem, normalizeFingerprint, toPem, verifyUserCert } from "../pki/index.ts";
import { fromBase64, toBase64 } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { TrustError } from "./errors.ts";
import { renewalTime } from "./expiry.ts";
import type { Credentials, Home, Profile } from "./home.ts";
import { connectAs } from "./session.ts";

/** Whether two thirds of the certificate's lifetime have passed (RN6). */
export function renewalDue(certDer: Uint8Array, now = Date.now()): boolean {
  const { notBefore, notAfter } = certInfo(certDer);
  return now >= renewalTime(notBefore, notAfter);
}

export interface RenewOptions {
  /** A new key instead of the current one (RN3). */
  rekey?: boolean;
  keyBits?: number;
}

export interface Renewal {
  creds: Credentials;
  previousSerial: string;
  rekeyed: boolean;
}

/**
 * RENEW over an open connection authenticated with `creds`: a CSR for the current key (or a new
 * one), the new certificate checked (pinned CA, same user, holds the key sent), then saved
 * atomically (RN5). Returns the credentials to use from now on.
 */
export async function renewOver(conn: Connection, home: Home, creds: Credentials, opts: RenewOptions = {}): Promise<Renewal> {
  const username = creds.profile.username;
  const privateKeyPkcs8 = opts.rekey ? (await createKeyAndCsr({ username, bits: opts.keyBits ?? keyBitsOf(creds) })).privateKeyPkcs8 : creds.keyPkcs8;
  const { csrDer, publicKeyDer } = await createCsrForKey({ username, privateKeyPkcs8 });
  const reply = await conn.expect({ type: "RENEW", csr: toBase64(csrDer) }, "RENEWED");
  const certDer = fromBase64(reply.certificate);
  if (normalizeFingerprint(fingerprint(fromBase64(reply.caCertificate))) !== normalizeFingerprint(fingerprint(creds.caDer))) {
    throw new TrustError("ca", "cannot renew: the server returned a different CA certificate than the one pinned; refusing");
  }
  await verifyUserCert({ certDer, caCertDer: creds.caDer, expectedUser: username }).catch((error: Error) => {
    throw new TrustError("certificate", `cannot renew: the server issued a certificate that does not verify: ${error.message}`);
  });
  if (Buffer.compare(certPublicKeyDer(certDer), publicKeyDer) !== 0) {
    throw new TrustError("certificate", "cannot renew: the server issued a certificate for another key than the one sent; refusing");
  }
  const profile: Profile = { ...creds.profile, serial: reply.serial, notAfter: reply.notAfter };
  const keyPem = opts.rekey ? toPem(privateKeyPkcs8, "PRIVATE KEY") : creds.keyPem;
  const certPem = toPem(certDer, "CERTIFICATE");
  await home.saveRenewal({ profile, keyPem, certPem });
  return {
    creds: { ...creds, profile, keyPem, certPem, keyPkcs8: fromPem(keyPem, "PRIVATE KEY"), certDer },
    previousSerial: creds.profile.serial,
    rekeyed: opts.rekey ?? false,
  };
}

/** `sis renew`: connect with the current certificate, renew, close. */
export async function renew(home: Home, opts: RenewOptions = {}): Promise<Renewal> {
  const creds = await home.credentials({ warn: false });
  const conn = await connectAs(creds);
  try {
    return await renewOver(conn, home, creds, opts);
  } finally {
    conn.close();
  }
}

/** The modulus size of the current key, kept by --rekey unless --key-bits says otherwise. */
function keyBitsOf(creds: Credentials): number {
  // The PKCS#8 of an RSA key grows with its modulus: about 1218 bytes at 2048 bits, 1794 at 3072, 2374 at 4096.
  const n = creds.keyPkcs8.length;
  return n < 1500 ? 2048 : n < 2100 ? 3072 : 4096;
}
