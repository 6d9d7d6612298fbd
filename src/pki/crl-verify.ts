/** Verifies a CRL against the pinned CA: issuer, signature, freshness. A stale CRL is an error, never "no revocations". */
import { sameName } from "./cert-info.ts";
import { CRL_NUMBER_OID } from "./crl.ts";
import { asPkiError, PkiError, wrapAsync } from "./errors.ts";
import { parseCert, parseCrl } from "./parse.ts";
import { BACKDATE_MS } from "./profiles.ts";
import { reasonName, type RevocationEntry } from "./revocation.ts";
import { normalizeSerial } from "./serial.ts";
import type { x509 } from "./setup.ts";

const AKI_OID = "2.5.29.35";
const KNOWN_CRL_EXTENSIONS = new Set([AKI_OID, CRL_NUMBER_OID]);
const REASON_CODE_OID = "2.5.29.21";
const INVALIDITY_DATE_OID = "2.5.29.24";
const KNOWN_ENTRY_EXTENSIONS = new Set([REASON_CODE_OID, INVALIDITY_DATE_OID]);
export const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

export interface VerifiedCrl {
  revokedSerials: ReadonlySet<string>;
  /** Each revoked serial with its revocation date, reason and invalidity date (ENVELOPE.md V13). */
  entries: ReadonlyMap<string, RevocationEntry>;
  thisUpdate: number;
  nextUpdate: number;
}

export async function verifyCrl(crlDer: Uint8Array, caCertDer: Uint8Array, now: Date = new Date()): Promise<VerifiedCrl> {
  // Safety net: anything a library throws on hostile input becomes BAD_CRL, never a raw error.
  return wrapAsync("BAD_CRL", "CRL could not be read", () => verifyUnwrapped(crlDer, caCertDer, now));
}

/** What a CRL says whatever the time: kept only once its issuer, signature and extensions passed; the entries' own error is thrown after the time checks, as before. */
interface ReadCrl {
  thisUpdate: number;
  nextUpdate: number | undefined;
  entries: VerifiedCrl["entries"] | PkiError;
  revokedSerials: VerifiedCrl["revokedSerials"];
}

/** A watcher checks one CRL for every image: the time-free part is remembered by the SHA-256 of the CRL's and the CA's exact bytes (a newer CRL is other bytes). */
const MAX_REMEMBERED = 8;
const remembered = new Map<string, ReadCrl>();

function keyOf(crlDer: Uint8Array, caCertDer: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(crlDer).digest("hex") + new Bun.CryptoHasher("sha256").update(caCertDer).digest("hex");
}

async function verifyUnwrapped(crlDer: Uint8Array, caCertDer: Uint8Array, now: Date): Promise<VerifiedCrl> {
  const key = keyOf(crlDer, caCertDer);
  let read = remembered.get(key);
  if (!read) {
    read = await readCrl(crlDer, caCertDer);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(key, read);
  }
  const t = now.getTime();
  const { thisUpdate, nextUpdate, entries } = read;
  if (thisUpdate > t + BACKDATE_MS) throw new PkiError("BAD_CRL", "CRL is dated in the future");
  // Without nextUpdate nobody can tell a current list from a replayed old one.
  if (nextUpdate === undefined) throw new PkiError("BAD_CRL", "CRL has no nextUpdate");
  if (t > nextUpdate) throw new PkiError("STALE_CRL", "CRL is out of date; fetch a fresh one from the server");
  if (entries instanceof PkiError) throw entries;
  // Shared, read-only: a look-up per call, no copy of a large list.
  return { revokedSerials: read.revokedSerials, entries, thisUpdate, nextUpdate };
}

async function readCrl(crlDer: Uint8Array, caCertDer: Uint8Array): Promise<ReadCrl> {
  const ca = parseCert(caCertDer);
  const crl = parseCrl(crlDer);

  if (!sameName(crl.issuerName, ca.subjectName)) throw new PkiError("BAD_CRL", "CRL was not issued by the pinned CA");
  if (!ACCEPTED_HASHES.has(crl.signatureAlgorithm.hash?.name ?? "")) {
    throw new PkiError("BAD_CRL", "CRL signature algorithm is not accepted");
  }
  const signed = await wrapAsync("BAD_CRL", "CRL signature could not be checked", () => crl.verify({ publicKey: ca }));
  if (!signed) throw new PkiError("BAD_CRL", "CRL signature does not verify with the pinned CA key");
  // An unknown critical extension (delta CRL, partitioned CRL…) changes the CRL's meaning: refuse it.
  for (const ext of crl.extensions) {
    if (ext.critical && !KNOWN_CRL_EXTENSIONS.has(ext.type)) throw new PkiError("BAD_CRL", `CRL has an unsupported critical extension ${ext.type}`);
  }
  const entries = readEntries(crl);
  const revokedSerials = new Set(entries instanceof PkiError ? [] : entries.keys());
  return { thisUpdate: crl.thisUpdate.getTime(), nextUpdate: crl.nextUpdate?.getTime(), entries, revokedSerials };
}

function readEntries(crl: x509.X509Crl): Map<string, RevocationEntry> | PkiError {
  const entries = new Map<string, RevocationEntry>();
  try {
    for (const e of crl.entries) {
      const entry = readEntry(e);
      // Two entries for one serial could disagree on dates or reason: the list would mean nothing.
      if (entries.has(entry.serial)) throw new PkiError("BAD_CRL", `CRL lists serial ${entry.serial} twice`);
      entries.set(entry.serial, entry);
    }
  } catch (error) {
    // Kept, and thrown after the time checks: a stale CRL is STALE_CRL whatever its entries hold.
    return asPkiError(error, "BAD_CRL", "CRL could not be read");
  }
  return entries;
}

function readEntry(e: x509.X509CrlEntry): RevocationEntry {
  for (const ext of e.extensions) {
    // certificateIssuer (indirect CRLs) and anything else critical would change whom the entry is about.
    if (ext.critical && !KNOWN_ENTRY_EXTENSIONS.has(ext.type)) throw new PkiError("BAD_CRL", `CRL entry has an unsupported critical extension ${ext.type}`);
  }
  const entry: RevocationEntry = { serial: normalizeSerial(e.serialNumber), revokedAt: e.revocationDate.getTime() };
  if (e.reason !== undefined) {
    const reason = reasonName(e.reason);
    // removeFromCRL (8) is only meaningful in a delta CRL; an unknown value has no meaning at all.
    if (reason === undefined) throw new PkiError("BAD_CRL", `CRL entry has an unusable reason code ${e.reason}`);
    if (reason !== "unspecified") entry.reason = reason;
  }
  const invalidity = e.invalidity;
  if (invalidity !== undefined) entry.invalidityDate = invalidity.getTime();
  return entry;
}

