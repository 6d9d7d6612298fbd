/** The one strict DER reader and writer: the structures sis signs and parses, and the well-formedness check run before any ASN.1 library. */

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

interface Header {
  tag: number;
  contentStart: number;
  end: number;
}

/**
 * The header of the element at `start` inside [start, end), or why it is not DER.
 * Strict on purpose: definite and minimal lengths only, and a length that fits
 * [start, end), so a hostile length can never make us read or allocate past what
 * we were given. Multi-byte (high-number) tags only when `highTags` is set; `tag`
 * is then the first tag byte.
 */
function readHeader(input: Uint8Array, start: number, end: number, highTags: boolean): Header | string {
  if (start + 1 >= end) return "truncated element";
  const tag = input[start]!;
  let pos = start + 1;
  if ((tag & 0x1f) === 0x1f) {
    if (!highTags) return "multi-byte tags are not supported";
    // High tag number: base-128, no leading 0x80 padding.
    if (input[pos] === 0x80) return "non-minimal tag";
    while (pos < end && (input[pos]! & 0x80) !== 0) pos++;
    if (++pos >= end) return "truncated element";
  }
  const first = input[pos++]!;
  let length = first;
  if (first & 0x80) {
    // 0x80 is BER's indefinite length; more than 4 length bytes is never needed here.
    const count = first & 0x7f;
    if (count === 0) return "indefinite length";
    if (count > 4) return "length too large";
    length = 0;
    for (let i = 0; i < count; i++) {
      if (pos >= end) return "truncated length";
      const b = input[pos++]!;
      if (i === 0 && b === 0) return "non-minimal length";
      length = length * 256 + b;
    }
    if (length < 0x80) return "non-minimal length"; // long form where the short form fits
  }
  if (pos + length > end) return "element runs past the end";
  return { tag, contentStart: pos, end: pos + length };
}

/** Reads one element at `at`; throws DerError unless it is DER (see readHeader). */
export function readTlv(input: Uint8Array, at = 0, highTags = false): Tlv {
  const header = readHeader(input, at, input.length, highTags);
  if (typeof header === "string") throw new DerError(header);
  return { tag: header.tag, bytes: input.subarray(at, header.end), content: input.subarray(header.contentStart, header.end) };
}

/** Parses exactly one element filling the whole input. */
export function parseDer(input: Uint8Array): Tlv {
  const tlv = readTlv(input, 0);
  if (tlv.bytes.length !== input.length) throw new DerError("trailing bytes");
  return tlv;
}

/** The children of a constructed element, optionally checking the outer tag. */
export function children(tlv: Tlv, tag?: number, highTags = false): Tlv[] {
  if (tag !== undefined && tlv.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  if ((tlv.tag & 0x20) === 0) throw new DerError("expected a constructed element");
  const out: Tlv[] = [];
  for (let at = 0; at < tlv.content.length; ) {
    const child = readTlv(tlv.content, at, highTags);
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

/**
 * True if `der` is exactly one element filling the input, every constructed
 * element's children nesting exactly inside it (definite, minimal lengths;
 * high tag numbers allowed), at most `maxNodes` elements and 64 levels deep.
 * Primitive contents (OCTET/BIT STRING payloads) are not descended into.
 */
export function isStrictDer(der: Uint8Array, maxNodes = 10_000): boolean {
  let nodes = 0;
  const walk = (start: number, end: number, depth: number): boolean => {
    let pos = start;
    while (pos < end) {
      if (++nodes > maxNodes || depth > 64) return false;
      const header = readHeader(der, pos, end, true);
      if (typeof header === "string") return false;
      if ((header.tag & 0x20) !== 0 && !walk(header.contentStart, header.end, depth + 1)) return false;
      pos = header.end;
    }
    return pos === end;
  };
  // Exactly one top-level element filling the whole input: no trailing bytes.
  const top = readHeader(der, 0, der.length, true);
  return typeof top !== "string" && top.end === der.length && walk(0, der.length, 0);
}
