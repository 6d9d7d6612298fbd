/** Builds the CA's X.509 v2 CRL: CRL number, AKI, thisUpdate/nextUpdate and the revoked serials. */
import type { Issuer } from "./issue.ts";
import { SIGNING_ALGORITHM } from "./keys.ts";
import { serialToDerHex } from "./serial.ts";
import { x509 } from "./setup.ts";

export const CRL_NUMBER_OID = "2.5.29.20";
/** Default CRL lifetime. The server should re-issue well before it ends (e.g. on every revocation and daily). */
export const DEFAULT_CRL_SECONDS = 7 * 24 * 60 * 60;

export interface CrlRequest {
  revoked: { serial: string; revokedAt: number }[];
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
    entries: req.revoked.map((r) => ({ serialNumber: serialToDerHex(r.serial), revocationDate: new Date(r.revokedAt) })),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(req.crlNumber)),
    ],
    signingAlgorithm: SIGNING_ALGORITHM,
    signingKey: issuer.signingKey,
  });
  return new Uint8Array(crl.rawData);
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
