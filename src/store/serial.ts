/** Certificate serial normalisation: the one spelling the store keys on. */

/**
 * Lower-case hex, no colons or spaces, no leading zero bytes (x509's
 * `serialNumber` drops them, DER keeps one when the top bit is set), so the
 * same certificate always finds the same row (the same rule as pki's
 * normalizeSerial). Returns null for non-hex input.
 */
export function normaliseSerial(serial: string): string | null {
  let hex = serial.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) return null;
  if (hex.length % 2 === 1) hex = "0" + hex;
  while (hex.length > 2 && hex.startsWith("00")) hex = hex.slice(2);
  return hex;
}
