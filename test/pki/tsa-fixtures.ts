/** Shared identities for the time-stamp tests: the suite CA's TSA, users with their keys, a signature value. */
import { CertificateAuthority, createCa } from "../../src/pki/ca.ts";
import { createKeyAndCsr } from "../../src/pki/client-key.ts";
import { importTsaSigningKey } from "../../src/pki/keys.ts";
import { fromPem } from "../../src/pki/pem.ts";
import { TimeStampAuthority } from "../../src/pki/tsa-token.ts";
import { sharedCa } from "./helpers.ts";

export interface Tsa {
  certPem: string;
  keyPem: string;
  certDer: Uint8Array;
  key: CryptoKey;
  tsa: TimeStampAuthority;
}

async function tsaOf(ca: CertificateAuthority, opts: { lifetimeDays?: number; now?: Date; keyType?: "p256" | "rsa" } = {}): Promise<Tsa> {
  const files = await ca.issueTsaCert(opts);
  return {
    ...files,
    certDer: fromPem(files.certPem, "CERTIFICATE"),
    key: await importTsaSigningKey(fromPem(files.keyPem, "PRIVATE KEY")),
    tsa: await TimeStampAuthority.load(files),
  };
}

let shared: Promise<Tsa> | undefined;

/** The TSA of the suite CA (sharedCa), made once. */
export function sharedTsa(): Promise<Tsa> {
  shared ??= sharedCa().then(({ ca }) => tsaOf(ca));
  return shared;
}

export { tsaOf };

/** A TSA under a different CA (same structure, not trusted by the suite CA). */
export async function foreignTsa(): Promise<{ ca: CertificateAuthority; tsa: Tsa }> {
  const ca = await CertificateAuthority.load(await createCa({ commonName: "another CA", lifetimeDays: 30 }));
  return { ca, tsa: await tsaOf(ca) };
}

/** A user of the suite CA with its PKCS#8 key (RSA 2048, for speed). */
export async function userWithKey(username: string, opts: { lifetimeDays?: number; now?: Date } = {}) {
  const { ca } = await sharedCa();
  const { privateKeyPkcs8, csrDer } = await createKeyAndCsr({ username, bits: 2048 });
  const issued = await ca.issueUserCert({ csrDer, username, ...opts });
  return { issued, privateKeyPkcs8 };
}

/** Stand-in for an image signature's value: 384 random bytes. */
export function signatureValue(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(384));
}
