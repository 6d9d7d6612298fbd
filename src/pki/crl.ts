/** Builds the CA's X.509 v2 CRL: CRL number, AKI, thisUpdate/nextUpdate and the revoked serials with their dates and reasons. */
import type { Issuer } from "./issue.ts";
import { SIGNING_ALGORITHM } from "./keys.ts";
import { CRL_REASONS, type CrlReason } from "./revocation.ts";
import { serialToDerHex } from "./serial.ts";
import { x509 } from "./setup.ts";

export const CRL_NUMBER_OID = "2.5.29.20";
/** Default CRL lifetime. The server should re-issue well before it ends (e.g. on every revocation and daily). */
export const DEFAULT_CRL_SECONDS = 7 * 24 * 60 * 60;

export interface CrlRequest {
  /**
   * revokedAt is the revocationDate; reason becomes the reasonCode entry extension (omitted for
   * unspecified, as RFC 5280 5.3.1 asks) and invalidityDate the invalidityDate extension
   * (ENVELOPE.md V13). Milliseconds since the epoch; the CRL keeps whole seconds.
   */
  revoked: { serial: string; revokedAt: number; reason?: CrlReason; invalidityDate?: number }[];
  crlNumber: number;
  now?: Date;
  nextUpdateSeconds?: number;
}

export async function buildCrl(issuer: Issuer, req: CrlRequest): Promise<Uint8Array> {
  if (!Number.isSafeInteger(req.crlNumber) || req.crlNumber < 0) {
    throw new RangeError(`crlNumber must be a non-negative integer, got ${req.crlNumber}`);
  }
  const seconds = req.nextUpdateSeconds ?? DEFAULT_CRL_SECONDS;
  if (!(seconds > 0)) throw new RangeError(`nextUpdateSeconds must be positive, got ${seconds}`);
  const now = req.now ?? new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.name,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + seconds * 1000),
    entries: req.revoked.map(crlEntry),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(req.crlNumber)),
    ],
    signingAlgorithm: SIGNING_ALGORITHM,
    signingKey: issuer.signingKey,
  });
  return new Uint8Array(crl.rawData);
}

function crlEntry(r: CrlRequest["revoked"][number]): x509.X509CrlEntryParams {
  if (r.reason !== undefined && !Object.hasOwn(CRL_REASONS, r.reason)) throw new RangeError(`unknown CRL reason ${JSON.stringify(r.reason)}`);
  // A key cannot have been compromised after the CA was told it was: that date would be a typo.
  if (r.invalidityDate !== undefined && !(r.invalidityDate <= r.revokedAt)) {
    throw new RangeError("invalidityDate must not be later than the revocation date");
  }
  return {
    serialNumber: serialToDerHex(r.serial),
    revocationDate: new Date(r.revokedAt),
    ...(r.reason !== undefined && r.reason !== "unspecified" && { reason: CRL_REASONS[r.reason] }),
    ...(r.invalidityDate !== undefined && { invalidity: new Date(r.invalidityDate) }),
  };
}

/** DER INTEGER for a non-negative safe integer (the CRLNumber extension value). */
export function derInteger(n: number): Uint8Array<ArrayBuffer> {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! >= 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}
