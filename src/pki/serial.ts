/** Certificate serial numbers: random positive 128-bit values and one normalised hex form for comparison. */
import { canonicalSerial } from "../encoding/serial.ts";
import { PkiError } from "./errors.ts";

const SERIAL_BYTES = 16;

/**
 * 16 random bytes (RFC 5280 allows up to 20) with the top bit cleared so the
 * DER INTEGER is positive without a pad byte, and a non-zero first byte so no
 * library can drop a leading zero and change the value we recorded.
 */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SERIAL_BYTES));
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return Buffer.from(bytes).toString("hex");
}

/** canonicalSerial (src/encoding/serial.ts), refusing what is not hex: "00:AB:01" → "ab01". */
export function normalizeSerial(hex: string): string {
  const s = canonicalSerial(hex);
  if (s === null) throw new PkiError("BAD_CERT", "serial number is not hex");
  return s;
}

/** The hex of a positive DER INTEGER for `serial`: a 00 pad byte when the top bit is set. */
export function serialToDerHex(serial: string): string {
  const s = normalizeSerial(serial);
  return parseInt(s.slice(0, 2), 16) >= 0x80 ? "00" + s : s;
}
