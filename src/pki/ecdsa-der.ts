/**
 * ECDSA signatures between WebCrypto's form (r || s, each the curve's size) and CMS's
 * Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5753 7.2, RFC 3279 2.2.3), as a
 * time-stamp token carries them (ENVELOPE.md G9, V11).
 */
import { DerError, TAG, at, children, parseDer, tlv } from "../encoding/der.ts";

/** P-256: r and s are 32 bytes each. */
export const P256_BYTES = 32;

/** The minimal DER INTEGER content of an unsigned big-endian number (a 0x00 first when the top bit is set). */
function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return tlv(TAG.INTEGER, ...(trimmed[0]! & 0x80 ? [new Uint8Array([0]), trimmed] : [trimmed]));
}

/** DER of an r || s signature of `size`-byte halves. */
export function ecdsaToDer(raw: Uint8Array, size = P256_BYTES): Uint8Array {
  if (raw.length !== 2 * size) throw new RangeError(`an ECDSA signature of this curve is ${2 * size} bytes, not ${raw.length}`);
  return tlv(TAG.SEQUENCE, unsignedInteger(raw.subarray(0, size)), unsignedInteger(raw.subarray(size)));
}

/** The positive, minimally encoded INTEGER content as `size` bytes; anything else is a DerError. */
function fixed(content: Uint8Array, size: number): Uint8Array {
  if (content.length === 0) throw new DerError("empty INTEGER");
  if (content[0]! & 0x80) throw new DerError("negative ECDSA signature component");
  if (content.length > 1 && content[0] === 0 && !(content[1]! & 0x80)) throw new DerError("INTEGER is not minimally encoded");
  const value = content[0] === 0 && content.length > 1 ? content.subarray(1) : content;
  if (value.length > size) throw new DerError("ECDSA signature component larger than the curve");
  const out = new Uint8Array(size);
  out.set(value, size - value.length);
  return out;
}

/** r || s of a strict DER Ecdsa-Sig-Value (nothing before, after or between); a DerError otherwise. */
export function ecdsaFromDer(der: Uint8Array, size = P256_BYTES): Uint8Array {
  const parts = children(parseDer(der), TAG.SEQUENCE);
  if (parts.length !== 2) throw new DerError("an ECDSA signature is a SEQUENCE of two INTEGERs");
  const out = new Uint8Array(2 * size);
  out.set(fixed(at(parts, 0, TAG.INTEGER).content, size), 0);
  out.set(fixed(at(parts, 1, TAG.INTEGER).content, size), size);
  return out;
}
