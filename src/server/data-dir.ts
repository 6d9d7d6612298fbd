/** The server's data directory: CA, TLS and storage keys made on first start, reused afterwards. */
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateAuthority, certInfo, createCa, fromPem, TimeStampAuthority, type CaFiles } from "../pki/index.ts";

export interface ServerKeys {
  ca: CertificateAuthority;
  caPem: string;
  tls: CaFiles;
  storage: CaFiles;
  storageCertDer: Uint8Array;
  storageKeyPkcs8: Uint8Array;
  /**
   * The P-256 storage key for key agreement (ENVELOPE.md W6, P11a), offered to clients of version 5:
   * made at the first start of a data directory that has none; null only for a cluster's keys
   * directory made before it (renewClusterTls adds it).
   */
  storageEcdh: StorageEcdh | null;
  /** The time-stamping authority (ENVELOPE.md G9, G10): its key and certificate, issued by the CA. */
  tsa: TimeStampAuthority;
  created: boolean;
}


export interface StorageEcdh {
  files: CaFiles;
  certDer: Uint8Array;
  keyPkcs8: Uint8Array;
}

export function storageEcdhOf(files: CaFiles): StorageEcdh {
  return { files, certDer: fromPem(files.certPem, "CERTIFICATE"), keyPkcs8: fromPem(files.keyPem, "PRIVATE KEY") };
}

export const DATA_FILES = {
  caCert: "ca.pem",
  caKey: "ca.key",
  tlsCert: "server.pem",
  tlsKey: "server.key",
  tlsHosts: "server.hosts",
  storageCert: "storage.pem",
  storageKey: "storage.key",
  storageEcdhCert: "storage-ecdh.pem",
  storageEcdhKey: "storage-ecdh.key",
  tsaCert: "tsa.pem",
  tsaKey: "tsa.key",
  database: "sis.db",
  blobs: "blobs",
} as const;

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Private keys are written 0600 and re-checked: a key readable by others is a key given away. */
export async function writePair(dir: string, certFile: string, keyFile: string, files: CaFiles): Promise<void> {
  await writeFile(join(dir, keyFile), files.keyPem, { mode: 0o600 });
  await chmod(join(dir, keyFile), 0o600);
  await writeFile(join(dir, certFile), files.certPem, { mode: 0o644 });
}

export async function readPair(dir: string, certFile: string, keyFile: string): Promise<CaFiles> {
  const keyPath = join(dir, keyFile);
  const mode = (await stat(keyPath)).mode & 0o077;
  if (mode !== 0) throw new Error(`${keyPath} is readable by other users; run 'chmod 600 ${keyPath}'`);
  return { certPem: await readFile(join(dir, certFile), "utf8"), keyPem: await readFile(keyPath, "utf8") };
}

export async function openDataDir(dir: string, hosts: string[], opts: { tlsCertDays?: number } = {}): Promise<ServerKeys> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const f = DATA_FILES;
  let created = false;
  if (!(await exists(join(dir, f.caKey)))) {
    await writePair(dir, f.caCert, f.caKey, await createCa());
    created = true;
  }
  const caFiles = await readPair(dir, f.caCert, f.caKey);
  const ca = await CertificateAuthority.load(caFiles);

  const wanted = [...new Set(hosts)].sort().join("\n");
  const haveHosts = await readFile(join(dir, f.tlsHosts), "utf8").catch(() => null);
  let tls = (await exists(join(dir, f.tlsKey))) ? await readPair(dir, f.tlsCert, f.tlsKey) : null;
  if (!tls || haveHosts !== wanted || tlsRenewalDue(tls.certPem)) tls = await renewTlsFiles(dir, ca, hosts, opts.tlsCertDays);

  let storage = (await exists(join(dir, f.storageKey))) ? await readPair(dir, f.storageCert, f.storageKey) : null;
  if (!storage) {
    storage = await ca.issueStorageCert();
    await writePair(dir, f.storageCert, f.storageKey, storage);
  }
  let storageEcdh = (await exists(join(dir, f.storageEcdhKey))) ? await readPair(dir, f.storageEcdhCert, f.storageEcdhKey) : null;
  if (!storageEcdh) {
    storageEcdh = await ca.issueStorageEcdhCert();
    await writePair(dir, f.storageEcdhCert, f.storageEcdhKey, storageEcdh);
  }
  return {
    ca,
    caPem: caFiles.certPem,
    tls,
    storage,
    storageCertDer: fromPem(storage.certPem, "CERTIFICATE"),
    storageKeyPkcs8: fromPem(storage.keyPem, "PRIVATE KEY"),
    storageEcdh: storageEcdhOf(storageEcdh),
    tsa: await openTsa(dir, ca),
    created,
  };
}

/**
 * The TSA key and certificate (G10): made at first start, and at the first start of an upgraded
 * data directory, which has none. A new one replaces it before it expires; the tokens the old one
 * signed stay valid, since a receiver judges the TSA certificate at each token's genTime (V11).
 */
/** The TSA certificate is replaced this long before it ends (T1). */
const TSA_RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export async function openTsa(dir: string, ca: CertificateAuthority, now = Date.now()): Promise<TimeStampAuthority> {
  const f = DATA_FILES;
  let files = (await exists(join(dir, f.tsaKey))) ? await readPair(dir, f.tsaCert, f.tsaKey) : null;
  if (!files || tsaRenewalDue(fromPem(files.certPem, "CERTIFICATE"), ca, now)) {
    files = await ca.issueTsaCert({ now: new Date(now) });
    await writePair(dir, f.tsaCert, f.tsaKey, files);
  }
  return TimeStampAuthority.load(files);
}

/**
 * Within 30 days of its end, unless it already ends with the CA (a new one could last no longer,
 * and would be made again at every check): the CA's end is warned about instead (RN9).
 */
export function tsaRenewalDue(tsaCertDer: Uint8Array, ca: CertificateAuthority, now = Date.now()): boolean {
  const notAfter = certInfo(tsaCertDer).notAfter;
  return notAfter - now < TSA_RENEW_BEFORE_MS && certInfo(ca.certDer).notAfter - notAfter > 24 * 3600 * 1000;
}

/** RN8: a server certificate with less than a third of its lifetime left is renewed (at start and while running). */
export function tlsRenewalDue(certPem: string, now = Date.now()): boolean {
  const { notBefore, notAfter } = certInfo(fromPem(certPem, "CERTIFICATE"));
  return notAfter - now < (notAfter - notBefore) / 3;
}

/** Issues a new TLS certificate and key for `hosts` and writes them (key first, 0600) with the host list. */
export async function renewTlsFiles(dir: string, ca: CertificateAuthority, hosts: string[], lifetimeDays?: number): Promise<CaFiles> {
  const f = DATA_FILES;
  const tls = await ca.issueServerCert({ hosts, ...(lifetimeDays !== undefined && { lifetimeDays }) });
  await writePair(dir, f.tlsCert, f.tlsKey, tls);
  await writeFile(join(dir, f.tlsHosts), [...new Set(hosts)].sort().join("\n"));
  return tls;
}
