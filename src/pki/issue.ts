/** The issuance core: apply a profile to a subject and a public key, then sign. Checks and authorization happen before this. */
import { sanEntries } from "./hosts.ts";
import { SIGNING_ALGORITHM } from "./keys.ts";
import { BACKDATE_MS, type CertProfile } from "./profiles.ts";
import { randomSerial } from "./serial.ts";
import { x509 } from "./setup.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface Issuer {
  /** The CA's subject exactly as encoded in its certificate, so issuer DN bytes match. */
  readonly name: x509.Name;
  readonly publicKey: x509.PublicKey;
  readonly signingKey: CryptoKey;
}

export interface SignRequest {
  readonly profile: CertProfile;
  readonly commonName: string;
  readonly publicKey: x509.PublicKey;
  /** Absent for a self-signed root: the subject signs itself. */
  readonly issuer?: Issuer;
  readonly signingKey: CryptoKey;
  readonly lifetimeDays?: number;
  readonly hosts?: readonly string[];
  readonly now?: Date;
}

export async function signCertificate(req: SignRequest): Promise<x509.X509Certificate> {
  const now = (req.now ?? new Date()).getTime();
  const lifetimeDays = req.lifetimeDays ?? req.profile.lifetimeDays;
  if (!Number.isInteger(lifetimeDays) || lifetimeDays < 1 || lifetimeDays > 36500) {
    throw new RangeError(`lifetimeDays must be a whole number of days in 1..36500, got ${lifetimeDays}`);
  }
  // The subject is always built by the CA from a checked name, never copied from a request.
  const subject = new x509.Name([{ CN: [req.commonName] }]);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: req.issuer?.name ?? subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + lifetimeDays * DAY_MS),
    publicKey: req.publicKey,
    signingKey: req.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: await profileExtensions(req),
  });
}

/** The profile, turned into extensions. The only branching on certificate kind happens here, driven by the data. */
async function profileExtensions(req: SignRequest): Promise<x509.Extension[]> {
  const { profile } = req;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(profile.ca, profile.ca ? profile.pathLength : undefined, true),
    new x509.KeyUsagesExtension(profile.keyUsage, true),
    await x509.SubjectKeyIdentifierExtension.create(req.publicKey),
  ];
  if (profile.extendedKeyUsage.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension([...profile.extendedKeyUsage], profile.extendedKeyUsageCritical ?? false));
  }
  if (profile.authorityKeyId && req.issuer) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(req.issuer.publicKey));
  }
  if (profile.hostNames) {
    extensions.push(new x509.SubjectAlternativeNameExtension(sanEntries(req.hosts ?? []), false));
  }
  return extensions;
}
