/**
 * Cluster keys (docs/SCALING.md, "One set of keys for every node"): the CA, storage, TSA and TLS
 * keys made once by `sis admin init-cluster`, then only read by every node. A node in cluster
 * mode never makes a key of its own: two nodes with two CAs would not answer like one.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateAuthority, certInfo, fromPem, TimeStampAuthority, createCa, type CaFiles } from "../pki/index.ts";
import { DATA_FILES, exists, readPair, storageEcdhOf, tsaRenewalDue, writePair, type ServerKeys } from "./data-dir.ts";

/** A cluster key that is missing, unreadable or open to others: the node does not start. */
export class ClusterKeyError extends Error {
  override readonly name = "ClusterKeyError";
}

/** What the operator runs; said by every refusal. */
export function initClusterHint(dir: string): string {
  return `run 'sis admin init-cluster --out ${dir} --name LB-NAME' once and copy ${dir} to every node (keys 0600)`;
}

const PAIRS = [
  ["CA", DATA_FILES.caCert, DATA_FILES.caKey],
  ["storage", DATA_FILES.storageCert, DATA_FILES.storageKey],
  ["time-stamping", DATA_FILES.tsaCert, DATA_FILES.tsaKey],
  ["TLS", DATA_FILES.tlsCert, DATA_FILES.tlsKey],
] as const;
/** Optional for a node: a keys directory made before it has none, and its nodes then offer RSA alone (P11a). */
const ECDH_PAIR = ["storage key agreement", DATA_FILES.storageEcdhCert, DATA_FILES.storageEcdhKey] as const;

export interface ClusterInit {
  fingerprint: string;
  /** The names and addresses in the TLS certificate (localhost and 127.0.0.1 are always added). */
  hosts: string[];
  files: string[];
}

function sortedHosts(names: string[]): string[] {
  return [...new Set(["localhost", "127.0.0.1", ...names])].sort();
}

/** Makes the keys once; a directory that already holds a CA key is refused (a second CA would split the cluster). */
export async function initCluster(dir: string, names: string[], opts: { tlsCertDays?: number } = {}): Promise<ClusterInit> {
  if (await exists(join(dir, DATA_FILES.caKey))) {
    throw new ClusterKeyError(`cannot init-cluster: ${dir} already holds a CA (${DATA_FILES.caKey}); a second one would split the cluster. Renew its TLS certificate with 'sis admin init-cluster --renew-tls --out ${dir}', or give another --out`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFiles = await createCa();
  await writePair(dir, DATA_FILES.caCert, DATA_FILES.caKey, caFiles);
  const ca = await CertificateAuthority.load(caFiles);
  await writePair(dir, DATA_FILES.storageCert, DATA_FILES.storageKey, await ca.issueStorageCert());
  await writePair(dir, DATA_FILES.storageEcdhCert, DATA_FILES.storageEcdhKey, await ca.issueStorageEcdhCert());
  await writePair(dir, DATA_FILES.tsaCert, DATA_FILES.tsaKey, await ca.issueTsaCert());
  const hosts = await writeTls(dir, ca, names, opts.tlsCertDays);
  return { fingerprint: ca.fingerprint, hosts, files: [...PAIRS, ECDH_PAIR].flatMap(([, cert, key]) => [cert, key]) };
}

/** Re-issues the TLS certificate only (RN8 in cluster mode): the same names as before unless `names` is given. */
export async function renewClusterTls(dir: string, names: string[] | null, opts: { tlsCertDays?: number } = {}): Promise<ClusterInit> {
  const ca = await CertificateAuthority.load(await readKeyPair(dir, "CA", DATA_FILES.caCert, DATA_FILES.caKey));
  const before = await readFile(join(dir, DATA_FILES.tlsHosts), "utf8").then((t) => t.split("\n").filter(Boolean), () => []);
  const hosts = await writeTls(dir, ca, names ?? before, opts.tlsCertDays);
  const files: string[] = [DATA_FILES.tlsCert, DATA_FILES.tlsKey];
  // The TSA certificate is replaced here too when it nears its end (T1): nodes never replace it themselves.
  const tsa = await readKeyPair(dir, "time-stamping", DATA_FILES.tsaCert, DATA_FILES.tsaKey);
  if (tsaRenewalDue(fromPem(tsa.certPem, "CERTIFICATE"), ca)) {
    await writePair(dir, DATA_FILES.tsaCert, DATA_FILES.tsaKey, await ca.issueTsaCert());
    files.push(DATA_FILES.tsaCert, DATA_FILES.tsaKey);
  }
  // A keys directory made before the P-256 storage key gets it here, once, by the operator: a node never makes it.
  if (!(await exists(join(dir, DATA_FILES.storageEcdhKey)))) {
    await writePair(dir, DATA_FILES.storageEcdhCert, DATA_FILES.storageEcdhKey, await ca.issueStorageEcdhCert());
    files.push(DATA_FILES.storageEcdhCert, DATA_FILES.storageEcdhKey);
  }
  return { fingerprint: ca.fingerprint, hosts, files };
}

async function writeTls(dir: string, ca: CertificateAuthority, names: string[], days: number | undefined): Promise<string[]> {
  const hosts = sortedHosts(names);
  const tls = await ca.issueServerCert({ hosts, ...(days !== undefined && { lifetimeDays: days }) });
  await writePair(dir, DATA_FILES.tlsCert, DATA_FILES.tlsKey, tls);
  await writeFile(join(dir, DATA_FILES.tlsHosts), hosts.join("\n"));
  return hosts;
}

async function readKeyPair(dir: string, what: string, certFile: string, keyFile: string): Promise<CaFiles> {
  try {
    return await readPair(dir, certFile, keyFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const path = (error as NodeJS.ErrnoException).path ?? join(dir, keyFile);
    const reason =
      code === "ENOENT" ? `no ${what} key or certificate at ${path}` :
      code === "EACCES" ? `cannot read ${path} (permission denied; the node's user must own it)` :
      null;
    // A key open to others names its chmod; making new keys would not help there.
    throw new ClusterKeyError(`cannot start: ${reason ?? (error as Error).message}${reason ? `; ${initClusterHint(dir)}` : ""}`);
  }
}

/** The TLS certificate of the keys directory, as it is now (a renewal by the operator is picked up from here). */
export function readClusterTls(dir: string): Promise<CaFiles> {
  return readKeyPair(dir, "TLS", DATA_FILES.tlsCert, DATA_FILES.tlsKey);
}

/** Loads every key of a cluster; creates nothing. An ended TLS or TSA certificate is refused: it would be refused by clients. */
export async function openClusterKeys(dir: string, now = Date.now()): Promise<ServerKeys> {
  if (!(await readdir(dir).then(() => true, () => false))) {
    throw new ClusterKeyError(`cannot start: no keys directory ${dir}; a node in cluster mode (--keys, or --database postgres) never makes keys of its own; ${initClusterHint(dir)}`);
  }
  const [caFiles, storage, tsaFiles, tls] = await Promise.all(PAIRS.map(([what, cert, key]) => readKeyPair(dir, what, cert, key)));
  const [ecdhWhat, ecdhCert, ecdhKey] = ECDH_PAIR;
  const storageEcdh = (await exists(join(dir, ecdhKey))) ? storageEcdhOf(await readKeyPair(dir, ecdhWhat, ecdhCert, ecdhKey)) : null;
  const ca = await CertificateAuthority.load(caFiles!).catch((error: unknown) => {
    throw new ClusterKeyError(`cannot start: the CA in ${dir} does not load (${(error as Error).message}); ${initClusterHint(dir)}`);
  });
  for (const [what, files, file] of [["TLS", tls!, DATA_FILES.tlsCert], ["time-stamping", tsaFiles!, DATA_FILES.tsaCert]] as const) {
    if (certInfo(fromPem(files.certPem, "CERTIFICATE")).notAfter <= now) {
      throw new ClusterKeyError(`cannot start: the ${what} certificate ${join(dir, file)} has ended; run 'sis admin init-cluster --renew-tls --out ${dir}' and copy it to every node`);
    }
  }
  return {
    ca,
    caPem: caFiles!.certPem,
    tls: tls!,
    storage: storage!,
    storageCertDer: fromPem(storage!.certPem, "CERTIFICATE"),
    storageKeyPkcs8: fromPem(storage!.keyPem, "PRIVATE KEY"),
    storageEcdh,
    tsa: await TimeStampAuthority.load(tsaFiles!),
    created: false,
  };
}
