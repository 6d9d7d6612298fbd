/** Verifies a CRL against the pinned CA: issuer, signature, freshness. A stale CRL is an error, never "no revocations". */
import { sameName } from "./cert-info.ts";
import { CRL_NUMBER_OID } from "./crl.ts";
import { PkiError, wrapAsync } from "./errors.ts";
import { parseCert, parseCrl } from "./parse.ts";
import { BACKDATE_MS } from "./profiles.ts";
import { normalizeSerial } from "./serial.ts";

const AKI_OID = "2.5.29.35";
const KNOWN_CRL_EXTENSIONS = new Set([AKI_OID, CRL_NUMBER_OID]);
export const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

export interface VerifiedCrl {
  revokedSerials: Set<string>;
  thisUpdate: number;
  nextUpdate: number;
}

export async function verifyCrl(crlDer: Uint8Array, caCertDer: Uint8Array, now: Date = new Date()): Promise<VerifiedCrl> {
  // Safety net: anything a library throws on hostile input becomes BAD_CRL, never a raw error.
  return wrapAsync("BAD_CRL", "CRL could not be read", () => verifyUnwrapped(crlDer, caCertDer, now));
}

async function verifyUnwrapped(crlDer: Uint8Array, caCertDer: Uint8Array, now: Date): Promise<VerifiedCrl> {
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

  const t = now.getTime();
  const thisUpdate = crl.thisUpdate.getTime();
  const nextUpdate = crl.nextUpdate?.getTime();
  if (thisUpdate > t + BACKDATE_MS) throw new PkiError("BAD_CRL", "CRL is dated in the future");
  // Without nextUpdate nobody can tell a current list from a replayed old one.
  if (nextUpdate === undefined) throw new PkiError("BAD_CRL", "CRL has no nextUpdate");
  if (t > nextUpdate) throw new PkiError("STALE_CRL", "CRL is out of date; fetch a fresh one from the server");

  const revokedSerials = new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber)));
  return { revokedSerials, thisUpdate, nextUpdate };
}

