/** Certificate profiles as data: what each kind of certificate sis issues carries, and for how long. */
import { x509 } from "./setup.ts";

const KU = x509.KeyUsageFlags;
const EKU = x509.ExtendedKeyUsage;

export interface CertProfile {
  /** Size of the RSA key the CA generates itself (server-side profiles); user keys come from the CSR. */
  readonly keyBits: number;
  /** The key the CA generates for this profile when it is not RSA of keyBits. */
  readonly keyType?: "p256";
  readonly lifetimeDays: number;
  readonly ca: boolean;
  /** Only for CAs: 0 means the root may sign leaves but no intermediate CAs. */
  readonly pathLength?: number;
  readonly keyUsage: number;
  readonly extendedKeyUsage: readonly string[];
  /** RFC 3161 2.3 requires the time-stamping EKU to be critical; the others are not. */
  readonly extendedKeyUsageCritical?: boolean;
  /** Root certificates carry no AKI: they are their own authority. */
  readonly authorityKeyId: boolean;
  /** Whether the certificate gets a subjectAltName built from host names/IPs. */
  readonly hostNames: boolean;
}

/**
 * Every certificate backdates notBefore by this much, so a peer whose clock
 * runs a little behind the server's does not see a brand-new certificate as
 * "not yet valid".
 */
export const BACKDATE_MS = 5 * 60 * 1000;

export const PROFILES = {
  root: {
    keyBits: 3072,
    lifetimeDays: 3650,
    ca: true,
    pathLength: 0,
    keyUsage: KU.keyCertSign | KU.cRLSign,
    extendedKeyUsage: [],
    authorityKeyId: false,
    hostNames: false,
  },
  // Its key is ECDSA P-256 (PROTOCOL.md P29a): the server signs once per TLS handshake, 0.06 ms
  // against ~1.9 ms for RSA 3072 at the same strength. TLS 1.3 only signs with it, and an EC key
  // must not claim keyEncipherment (RFC 5480 section 3). keyBits is the size of the RSA keys
  // TLS certificates had before, which still load (issueServerCert's keyType "rsa").
  serverTls: {
    keyBits: 3072,
    keyType: "p256",
    lifetimeDays: 397,
    ca: false,
    keyUsage: KU.digitalSignature,
    extendedKeyUsage: [EKU.serverAuth],
    authorityKeyId: true,
    hostNames: true,
  },
  // The storage key only ever unwraps image keys (RSA-OAEP): it must not sign anything.
  storage: {
    keyBits: 3072,
    lifetimeDays: 3650,
    ca: false,
    keyUsage: KU.keyEncipherment,
    extendedKeyUsage: [],
    authorityKeyId: true,
    hostNames: false,
  },
  // The storage key for key agreement (ENVELOPE.md W6..W10): clients wrap image keys for it with
  // ECDH-ES on P-256, which the server opens in 0.1 ms against RSA-OAEP's 1.6 ms for the key above
  // (kept: every image wrapped for it before, and clients of protocol versions 1 to 4, use it).
  // It only agrees keys: keyAgreement alone (RFC 5480 section 3).
  storageEcdh: {
    keyBits: 3072,
    keyType: "p256",
    lifetimeDays: 3650,
    ca: false,
    keyUsage: KU.keyAgreement,
    extendedKeyUsage: [],
    authorityKeyId: true,
    hostNames: false,
  },
  // emailProtection is required by `openssl cms -verify`; clientAuth by mutual TLS.
  user: {
    keyBits: 3072,
    lifetimeDays: 365,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extendedKeyUsage: [EKU.clientAuth, EKU.emailProtection],
    authorityKeyId: true,
    hostNames: false,
  },
  // The time-stamping authority (RFC 3161 2.3): its key signs time-stamp tokens and nothing
  // else, so the EKU is timeStamping alone and critical, and it is neither a user nor TLS.
  // Five years, cut to the CA's remaining life when issued (CertificateAuthority.issueTsaCert).
  // Its key is ECDSA P-256 (generateP256KeyPair, ENVELOPE.md G10); keyBits is the size of the RSA
  // keys TSA certificates had before, which still load (issueTsaCert's keyType "rsa").
  timeStamping: {
    keyBits: 3072,
    lifetimeDays: 1826,
    ca: false,
    keyUsage: KU.digitalSignature | KU.nonRepudiation,
    extendedKeyUsage: [EKU.timeStamping],
    extendedKeyUsageCritical: true,
    authorityKeyId: true,
    hostNames: false,
  },
} as const satisfies Record<string, CertProfile>;

export type ProfileName = keyof typeof PROFILES;
