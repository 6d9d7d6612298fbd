/** Who a presented client certificate belongs to, decided by our own records (P4), not by TLS alone. */
import { sameBytes } from "../encoding/bytes.ts";
import type { ErrorCode } from "../protocol/index.ts";
import { readCertSerial } from "./cert-serial.ts";
import type { CertStore } from "./ports.ts";

export interface Identity {
  userId: number;
  username: string;
  serial: string;
  certDer: Uint8Array;
}

export type Identification = { identity: Identity } | { refused: ErrorCode; reason: string } | { anonymous: true };

export async function identify(certs: Pick<CertStore, "findCert">, presented: Uint8Array | null, now = Date.now()): Promise<Identification> {
  if (!presented || presented.length === 0) return { anonymous: true };
  // Runs at every handshake: a DER walk (microseconds), not an X.509 parse (~1.5 ms).
  const serial = readCertSerial(presented);
  if (serial === null) return { refused: "CERT_UNKNOWN", reason: "unparsable certificate" };
  // The store is asked on every connection, never cached: a revocation, also one
  // recorded by `sis admin revoke` in another process, applies to the next connection.
  const record = await certs.findCert(serial);
  // Serial and exact bytes must both match: a foreign CA can mint any serial and subject.
  if (!record || !sameBytes(record.der, presented)) return { refused: "CERT_UNKNOWN", reason: `serial ${serial} not issued here` };
  if (record.revokedAt !== null) return { refused: "CERT_REVOKED", reason: `serial ${serial} revoked` };
  if (now < record.notBefore || now > record.notAfter) return { refused: "CERT_EXPIRED", reason: `serial ${serial} outside validity` };
  // Membership (M10): a disabled account's certificates are all refused, at HELLO and at each request.
  if (record.userDisabled) return { refused: "ACCOUNT_DISABLED", reason: `account ${record.username} disabled` };
  return { identity: { userId: record.userId, username: record.username, serial, certDer: record.der } };
}
