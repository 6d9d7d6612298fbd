/** The serial number of a presented certificate, read with the strict DER reader instead of a full X.509 parse. */
import { toHex } from "../encoding/bytes.ts";
import { DerError, parseDer, readTlv, TAG } from "../encoding/der.ts";
import { canonicalSerial } from "../encoding/serial.ts";
import { MAX_CERT_BYTES } from "../pki/index.ts";

/** `[0] EXPLICIT Version` of TBSCertificate: absent means v1. */
const VERSION_TAG = TAG.CONTEXT_0;
/** RFC 5280 4.1.2.2: at most 20 octets, plus a 0x00 pad byte some encoders add. */
const MAX_SERIAL_OCTETS = 21;

/**
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 * serialNumber INTEGER, ... }, ... } (RFC 5280 4.1). Returns the serial in
 * canonicalSerial's form, or null if the bytes do not have that shape.
 *
 * Why this is enough (P4): the serial is only a lookup key. identify() then
 * requires the presented bytes to equal the recorded certificate exactly, so
 * a certificate we did not issue can never match whatever serial is read
 * here, and one we did issue yields the serial it was recorded under. Only
 * the elements on the way to the INTEGER are read, each bounds-checked by
 * src/encoding/der.ts; nothing else is trusted.
 */
export function readCertSerial(der: Uint8Array): string | null {
  if (der.byteLength > MAX_CERT_BYTES) return null;
  try {
    const top = parseDer(der);
    if (top.tag !== TAG.SEQUENCE) return null;
    const tbs = readTlv(top.content, 0);
    if (tbs.tag !== TAG.SEQUENCE) return null;
    const first = readTlv(tbs.content, 0);
    const serial = first.tag === VERSION_TAG ? readTlv(tbs.content, first.bytes.length) : first;
    const octets = serial.content.length;
    if (serial.tag !== TAG.INTEGER || octets === 0 || octets > MAX_SERIAL_OCTETS) return null;
    return canonicalSerial(toHex(serial.content));
  } catch (e) {
    if (e instanceof DerError) return null;
    throw e;
  }
}
