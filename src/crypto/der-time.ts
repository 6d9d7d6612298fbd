/** DER UTCTime / GeneralizedTime for CMS signingTime (RFC 5652 11.3: UTCTime for 1950..2049). */
import { DerError, TAG, tlv, type Tlv } from "../encoding/der.ts";

const ascii = new TextEncoder();
const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Encodes whole seconds in UTC; milliseconds are dropped. */
export function encodeTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < 1 || year > 9999) throw new RangeError("signing time out of range");
  const rest =
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    "Z";
  if (year >= 1950 && year <= 2049) return tlv(TAG.UTC_TIME, ascii.encode(pad(year % 100, 2) + rest));
  return tlv(TAG.GENERALIZED_TIME, ascii.encode(pad(year, 4) + rest));
}

const UTC = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** Decodes the DER forms only (seconds present, Z, no fraction). */
export function decodeTime(element: Tlv): Date {
  const text = String.fromCharCode(...element.content);
  const m = element.tag === TAG.UTC_TIME ? UTC.exec(text) : element.tag === TAG.GENERALIZED_TIME ? GENERALIZED.exec(text) : null;
  if (m === null) throw new DerError("bad time");
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const year = element.tag === TAG.UTC_TIME ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw new DerError("bad time");
  return date;
}
