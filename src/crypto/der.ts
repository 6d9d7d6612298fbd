/** A minimal strict DER reader and writer for the few structures sis signs and parses. */

export class DerError extends Error {
  override readonly name = "DerError";
}

/** One decoded TLV: `bytes` is the whole element, `content` its value, both views into the input. */
export interface Tlv {
  tag: number;
  bytes: Uint8Array;
  content: Uint8Array;
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
  CONTEXT_3: 0xa3,
  CONTEXT_PRIMITIVE_0: 0x80,
} as const;

/**
 * Reads one element at `at`. Strict on purpose: single-byte tags, definite and minimal
 * lengths only (DER), and a length that fits the input, so a hostile length can never
 * make us read or allocate past what we were given.
 */
export function readTlv(input: Uint8Array, at = 0): Tlv {
  const tag = input[at];
  const first = input[at + 1];
  if (tag === undefined || first === undefined) throw new DerError("truncated element");
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let length = first;
  let headerSize = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0) throw new DerError("indefinite length");
    if (count > 4) throw new DerError("length too large");
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = input[at + 2 + i];
      if (b === undefined) throw new DerError("truncated length");
      if (i === 0 && b === 0) throw new DerError("non-minimal length");
      length = length * 256 + b;
    }
    if (length < 0x80) throw new DerError("non-minimal length");
    headerSize += count;
  }
  const end = at + headerSize + length;
  if (end > input.length) throw new DerError("element runs past the end");
  return { tag, bytes: input.subarray(at, end), content: input.subarray(at + headerSize, end) };
}

/** Parses exactly one element filling the whole input. */
export function parseDer(input: Uint8Array): Tlv {
  const tlv = readTlv(input, 0);
  if (tlv.bytes.length !== input.length) throw new DerError("trailing bytes");
  return tlv;
}

/** The children of a constructed element, optionally checking the outer tag. */
export function children(tlv: Tlv, tag?: number): Tlv[] {
  if (tag !== undefined && tlv.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  if ((tlv.tag & 0x20) === 0) throw new DerError("expected a constructed element");
  const out: Tlv[] = [];
  for (let at = 0; at < tlv.content.length; ) {
    const child = readTlv(tlv.content, at);
    out.push(child);
    at += child.bytes.length;
  }
  return out;
}

/** Element `i` of a list, or a DerError. */
export function at(list: Tlv[], i: number, tag?: number): Tlv {
  const tlv = list[i];
  if (tlv === undefined) throw new DerError("missing element");
  if (tag !== undefined && tlv.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  return tlv;
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const out: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) out.unshift(n % 256);
  return [0x80 | out.length, ...out];
}

/** Encodes tag || length || concat(parts). */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  const head = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let offset = head.length;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** DER of an OBJECT IDENTIFIER given in dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const body: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const groups = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift(0x80 | (n & 0x7f));
    body.push(...groups);
  }
  return tlv(TAG.OID, new Uint8Array(body));
}

/** Byte equality (not constant time: for public structure only). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order of encodings, for DER SET OF (X.690 11.6). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return a.length - b.length;
}
