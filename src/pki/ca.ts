/** The sis certificate authority: creates its root, then issues server, storage and user certificates and CRLs. */
import { checkCsr } from "./csr.ts";
import { buildCrl, type CrlRequest } from "./crl.ts";
import { PkiError } from "./errors.ts";
import { fingerprint } from "./fingerprint.ts";
import { signCertificate, type Issuer } from "./issue.ts";
import { assertKeyMatches, exportPkcs8, generateP256KeyPair, generateRsaKeyPair, importSigningKey } from "./keys.ts";
import { parseCert, rawBytes } from "./parse.ts";
import { fromPem, toPem } from "./pem.ts";
import { PROFILES, type CertProfile } from "./profiles.ts";
import { normalizeSerial } from "./serial.ts";
import { x509 } from "./setup.ts";

/** A certificate and its private key, both PEM; keyPem is PKCS#8. The caller writes keyPem with mode 0600. */
export interface CaFiles {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert {
  der: Uint8Array;
  pem: string;
  /** Normalised lower-case hex (see normalizeSerial). */
  serial: string;
  /** Milliseconds since the epoch, as encoded in the certificate (whole seconds). */
  notBefore: number;
  notAfter: number;
}

/** Usernames become the subject CN: printable, no control characters, within X.520's 64-character bound. */
const DAY_MS = 24 * 60 * 60 * 1000;

const USERNAME = /^[^\p{Cc}\p{Cf}]{1,64}$/u;

export async function createCa(opts: { commonName?: string; lifetimeDays?: number } = {}): Promise<CaFiles> {
  const profile = PROFILES.root;
  const keys = await generateRsaKeyPair(profile.keyBits);
  const publicKey = await x509.PublicKey.create(keys.publicKey);
  const suffix = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex");
  const cert = await signCertificate({
    profile,
    commonName: opts.commonName ?? `sis CA ${suffix}`,
    publicKey,
    signingKey: keys.privateKey,
    ...(opts.lifetimeDays !== undefined && { lifetimeDays: opts.lifetimeDays }),
  });
  return { certPem: toPem(rawBytes(cert), "CERTIFICATE"), keyPem: toPem(await exportPkcs8(keys.privateKey), "PRIVATE KEY") };
}

/** The TLS profile of data directories made before P29a: an RSA key, which TLS 1.2 could also have used to encipher. */
const RSA_SERVER_TLS: CertProfile = { ...PROFILES.serverTls, keyType: undefined, keyUsage: PROFILES.serverTls.keyUsage | x509.KeyUsageFlags.keyEncipherment };

export class CertificateAuthority {
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly fingerprint: string;

  private constructor(
    private readonly cert: x509.X509Certificate,
    private readonly issuer: Issuer,
  ) {
    this.certDer = rawBytes(cert);
    this.certPem = toPem(this.certDer, "CERTIFICATE");
    this.fingerprint = fingerprint(this.certDer);
  }

  /** Loads the CA from its PEM files and refuses a key that does not belong to the certificate. */
  static async load(files: CaFiles): Promise<CertificateAuthority> {
    const cert = parseCert(fromPem(files.certPem, "CERTIFICATE"));
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) throw new PkiError("BAD_CERT", "CA certificate is not marked as a CA");
    const signingKey = await importSigningKey(fromPem(files.keyPem, "PRIVATE KEY"));
    await assertKeyMatches(signingKey, await cert.publicKey.export());
    return new CertificateAuthority(cert, { name: cert.subjectName, publicKey: cert.publicKey, signingKey });
  }

  /**
   * TLS certificate for the server; the key (P-256, P29a) is generated here. localhost and
   * 127.0.0.1 are always included. `keyType` "rsa": an RSA 3072 key with keyEncipherment, as
   * every TLS certificate had before P-256, for the tests of data directories made then.
   */
  issueServerCert(opts: { hosts: string[]; lifetimeDays?: number; keyType?: "p256" | "rsa" }): Promise<CaFiles> {
    return this.issueWithNewKey(opts.keyType === "rsa" ? RSA_SERVER_TLS : PROFILES.serverTls, "sis server", opts.hosts, opts.lifetimeDays);
  }

  /** Key-transport certificate: clients wrap image keys for it with RSA-OAEP-SHA256. */
  issueStorageCert(opts: { lifetimeDays?: number } = {}): Promise<CaFiles> {
    return this.issueWithNewKey(PROFILES.storage, "sis storage key", [], opts.lifetimeDays);
  }

  /** Key-agreement certificate (P-256): clients of version 5 wrap image keys for it with ECDH-ES (ENVELOPE.md W6). */
  issueStorageEcdhCert(opts: { lifetimeDays?: number } = {}): Promise<CaFiles> {
    return this.issueWithNewKey(PROFILES.storageEcdh, "sis storage key agreement", [], opts.lifetimeDays);
  }

  /**
   * The time-stamping authority's certificate (profile timeStamping, ENVELOPE.md G10); the key is
   * generated here. It lasts the profile's five years, or until the CA ends if that is sooner:
   * a TSA certificate that outlives its CA could never be checked.
   */
  /**
   * `rsa`: an RSA 3072 key, as every TSA certificate had before P-256 (G10); for a verifier that
   * cannot check ECDSA, and for the tests of data directories made then.
   */
  async issueTsaCert(opts: { lifetimeDays?: number; now?: Date; keyType?: "p256" | "rsa" } = {}): Promise<CaFiles> {
    const now = opts.now ?? new Date();
    const caDaysLeft = Math.floor((this.cert.notAfter.getTime() - now.getTime()) / DAY_MS);
    const lifetimeDays = opts.lifetimeDays ?? Math.min(PROFILES.timeStamping.lifetimeDays, caDaysLeft);
    if (lifetimeDays < 1) throw new PkiError("BAD_CERT", "the CA ends within a day: it cannot issue a time-stamping certificate; roll the CA over first");
    const keys = opts.keyType === "rsa" ? await generateRsaKeyPair(PROFILES.timeStamping.keyBits) : await generateP256KeyPair();
    const cert = await signCertificate({
      profile: PROFILES.timeStamping,
      commonName: "sis time-stamping authority",
      publicKey: await x509.PublicKey.create(keys.publicKey),
      issuer: this.issuer,
      signingKey: this.issuer.signingKey,
      lifetimeDays,
      now,
    });
    return { certPem: toPem(rawBytes(cert), "CERTIFICATE"), keyPem: toPem(await exportPkcs8(keys.privateKey), "PRIVATE KEY") };
  }

  /**
   * Issuance pipeline for a user: read and check the CSR (proof of possession,
   * key size), apply the user profile with the server-chosen username as the
   * subject, sign. Authorizing the username and recording the result are the
   * caller's job. Only the CSR's public key is used; its subject and requested
   * extensions are ignored on purpose, so a request cannot ask for more.
   */
  async issueUserCert(opts: { csrDer: Uint8Array; username: string; lifetimeDays?: number; now?: Date }): Promise<IssuedCert> {
    const { publicKeyDer } = await checkCsr(opts.csrDer);
    if (!USERNAME.test(opts.username)) throw new PkiError("BAD_CSR", "username cannot be used as a certificate name");
    const cert = await signCertificate({
      profile: PROFILES.user,
      commonName: opts.username,
      publicKey: new x509.PublicKey(new Uint8Array(publicKeyDer)),
      issuer: this.issuer,
      signingKey: this.issuer.signingKey,
      ...(opts.lifetimeDays !== undefined && { lifetimeDays: opts.lifetimeDays }),
      ...(opts.now !== undefined && { now: opts.now }),
    });
    const der = rawBytes(cert);
    return {
      der,
      pem: toPem(der, "CERTIFICATE"),
      serial: normalizeSerial(cert.serialNumber),
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
    };
  }

  /** DER of a freshly signed CRL; PEM-encode with toPem(der, "X509 CRL"). */
  createCrl(opts: CrlRequest): Promise<Uint8Array> {
    return buildCrl(this.issuer, opts);
  }

  private async issueWithNewKey(profile: CertProfile, commonName: string, hosts: string[], lifetimeDays?: number): Promise<CaFiles> {
    const keys = profile.keyType === "p256" ? await generateP256KeyPair() : await generateRsaKeyPair(profile.keyBits);
    const cert = await signCertificate({
      profile,
      commonName,
      publicKey: await x509.PublicKey.create(keys.publicKey),
      issuer: this.issuer,
      signingKey: this.issuer.signingKey,
      hosts,
      ...(lifetimeDays !== undefined && { lifetimeDays }),
    });
    return { certPem: toPem(rawBytes(cert), "CERTIFICATE"), keyPem: toPem(await exportPkcs8(keys.privateKey), "PRIVATE KEY") };
  }
}
