/** The serial number of a presented certificate, read with a bounded DER walk instead of a full X.509 parse. */
import { children } from "../pki/der.ts";
import { MAX_CERT_BYTES, normalizeSerial } from "../pki/index.ts";

const SEQUENCE = 0x30;
const INTEGER = 0x02;
/** `[0] EXPLICIT Version` of TBSCertificate: absent means v1. */
const VERSION_TAG = 0xa0;
/** RFC 5280 4.1.2.2: at most 20 octets, plus a 0x00 pad byte some encoders add. */
const MAX_SERIAL_OCTETS = 21;

/**
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 * serialNumber INTEGER, ... }, ... } (RFC 5280 4.1). Returns the serial in
 * normalizeSerial's form, or null if the bytes do not have that shape.
 *
 * Why this is enough (P4): the serial is only a lookup key. identify() then
 * requires the presented bytes to equal the recorded certificate exactly, so
 * a certificate we did not issue can never match whatever serial is read
 * here, and one we did issue yields the serial it was recorded under. Every
 * length is bounds-checked by der.ts's header reader; nothing is trusted
 * beyond locating the INTEGER.
 */
export function readCertSerial(der: Uint8Array): string | null {
  if (der.byteLength > MAX_CERT_BYTES) return null;
  const top = children(der, 0, der.byteLength);
  if (top.length !== 1 || top[0]!.tag !== SEQUENCE || top[0]!.end !== der.byteLength) return null;
  const tbs = children(der, top[0]!.contentStart, top[0]!.end)[0];
  if (tbs?.tag !== SEQUENCE) return null;
  const fields = children(der, tbs.contentStart, tbs.end);
  const serial = fields[0]?.tag === VERSION_TAG ? fields[1] : fields[0];
  const octets = serial ? serial.end - serial.contentStart : 0;
  if (serial?.tag !== INTEGER || octets === 0 || octets > MAX_SERIAL_OCTETS) return null;
  try {
    return normalizeSerial(Buffer.from(der.buffer, der.byteOffset + serial.contentStart, octets).toString("hex"));
  } catch {
    return null;
  }
}
