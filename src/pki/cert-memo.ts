/** Per-process memo of what depends only on a certificate's (and the CA's) exact DER bytes (V8, V11): parsed forms, the TSA chain verdict, the imported key, a signer's judgement. */
import { parseCert } from "./parse.ts";
import type { x509 } from "./setup.ts";

/** A watcher sees one TSA and one CA; a few entries suffice, and the bound keeps hostile tokens from growing the maps. */
const MAX_ENTRIES = 32;

/** The key is the certificate's whole DER (base64): a cache hit is the very same bytes, never a look-alike (same subject, other key). */
function keyOf(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
}

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= MAX_ENTRIES) map.clear();
  map.set(key, value);
  return value;
}

const parsed = new Map<string, x509.X509Certificate>();
const issued = new Set<string>();
const keys = new Map<string, CryptoKey>();

/** parseCert, remembered by exact bytes; only a certificate that parsed is kept (a failure throws, as parseCert does, every time). */
export function parseCertMemo(der: Uint8Array): x509.X509Certificate {
  const key = keyOf(der);
  return parsed.get(key) ?? remember(parsed, key, parseCert(der));
}

/** Whether `check` (assertIssuedBy of these exact TSA and CA bytes) already passed; a failure is never remembered, so it runs again. */
export async function issuedByMemo(tsaDer: Uint8Array, caDer: Uint8Array, check: () => Promise<void>): Promise<void> {
  const key = `${keyOf(tsaDer)}|${keyOf(caDer)}`;
  if (issued.has(key)) return;
  await check();
  if (issued.size >= MAX_ENTRIES) issued.clear();
  issued.add(key);
}

/**
 * The certificate's public key imported by `importKey` for `use` (a WebCrypto key is bound to one
 * algorithm: "rsa" or "ecdsa"), remembered by the certificate's exact bytes and the use; a failure is not remembered.
 */
export async function publicKeyMemo(certDer: Uint8Array, use: string, importKey: () => Promise<CryptoKey>): Promise<CryptoKey> {
  const key = `${use}|${keyOf(certDer)}`;
  return keys.get(key) ?? remember(keys, key, await importKey());
}

/**
 * What verifyUserCert found about one signer certificate that no clock or CRL can change (V8):
 * chained to this CA, its dates, serial and the CA's dates, and the verdicts on its usage and
 * name (kept as the error to throw, so the order of the checks, and so the code reported, is
 * the same whether the judgement was remembered or not).
 */
export interface SignerJudgement {
  serial: string;
  notBefore: Date;
  notAfter: Date;
  caNotBefore: Date;
  caNotAfter: Date;
  usage: Error | null;
  username: string | Error;
}

/** A watcher sees a signer per member: enough for a large group; the oldest is forgotten first. */
const MAX_SIGNERS = 512;
const judgements = new Map<string, SignerJudgement>();

/**
 * `judge` (chain signature and the byte-only checks of these exact certificate and CA bytes),
 * remembered for the life of the process. The key is both whole DERs: another certificate
 * with the same serial is other bytes, so never a hit. A judge that throws (not issued by this
 * CA) is not remembered. Validity at an instant and revocation are not in it: the caller judges
 * those at every call, against the CRL of the moment.
 */
export async function signerJudgementMemo(certDer: Uint8Array, caDer: Uint8Array, judge: () => Promise<SignerJudgement>): Promise<SignerJudgement> {
  const key = `${keyOf(certDer)}|${keyOf(caDer)}`;
  const hit = judgements.get(key);
  if (hit) return hit;
  const judged = await judge();
  if (judgements.size >= MAX_SIGNERS) judgements.delete(judgements.keys().next().value!);
  judgements.set(key, judged);
  return judged;
}

/** How many signer judgements are remembered (tests). */
export function signerJudgementCount(): number {
  return judgements.size;
}

/** Forgets everything (tests). */
export function clearTsaCertCache(): void {
  parsed.clear();
  issued.clear();
  keys.clear();
  judgements.clear();
}
