/** The one spelling of a certificate serial number that every comparison and lookup keys on. */

/**
 * Strips colons/spaces, lower-cases and drops leading zero bytes: "00:AB:01" → "ab01".
 * x509's `serialNumber` drops them, DER keeps one when the top bit is set, so
 * the same certificate always yields the same text. Returns null for input
 * that is empty or not hex (callers decide how to refuse it).
 */
export function canonicalSerial(text: string): string | null {
  let s = text.replace(/[:\s]/g, "").toLowerCase();
  if (s.length === 0 || !/^[0-9a-f]+$/.test(s)) return null;
  if (s.length % 2 === 1) s = "0" + s;
  while (s.length > 2 && s.startsWith("00")) s = s.slice(2);
  return s;
}
