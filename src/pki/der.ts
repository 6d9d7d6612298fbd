/** A strict DER structure check run before any library parser: definite, minimal lengths that nest exactly. */

/**
 * Why: asn1js (under @peculiar/x509) tolerates lengths that disagree with the
 * bytes present, so a certificate whose outer or inner lengths were altered
 * still parses and its signature still verifies. Refusing anything that is not
 * well-formed DER keeps "the bytes we checked" and "the certificate we trust"
 * the same thing, which the server's exact-bytes lookup relies on.
 * Primitive contents (OCTET/BIT STRING payloads) are not descended into.
 */
export function isStrictDer(der: Uint8Array, maxNodes = 10_000): boolean {
  let nodes = 0;
  const walk = (start: number, end: number, depth: number): boolean => {
    let pos = start;
    while (pos < end) {
      if (++nodes > maxNodes || depth > 64) return false;
      const header = readHeader(der, pos, end);
      if (!header) return false;
      const { constructed, contentStart, contentEnd } = header;
      if (constructed && !walk(contentStart, contentEnd, depth + 1)) return false;
      pos = contentEnd;
    }
    return pos === end;
  };
  // Exactly one top-level element filling the whole input: no trailing bytes.
  const top = readHeader(der, 0, der.length);
  return top !== null && top.contentEnd === der.length && walk(0, der.length, 0);
}

function readHeader(der: Uint8Array, pos: number, end: number): { constructed: boolean; contentStart: number; contentEnd: number } | null {
  if (pos >= end) return null;
  const tag = der[pos++]!;
  if ((tag & 0x1f) === 0x1f) {
    // High tag number: base-128, no leading 0x80 padding.
    if (pos >= end || der[pos] === 0x80) return null;
    while (pos < end && (der[pos]! & 0x80) !== 0) pos++;
    if (++pos > end) return null;
  }
  if (pos >= end) return null;
  const first = der[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length bytes is never needed here.
    if (count === 0 || count > 4 || pos + count > end || der[pos] === 0) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[pos++]!;
    if (length < 0x80) return null; // long form where the short form fits: not DER
  }
  if (pos + length > end) return null;
  return { constructed: (tag & 0x20) !== 0, contentStart: pos, contentEnd: pos + length };
}

export interface Element {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** The elements directly inside [start, end) of DER already accepted by isStrictDer (single-byte tags). */
export function children(der: Uint8Array, start: number, end: number): Element[] {
  const out: Element[] = [];
  let pos = start;
  while (pos < end) {
    const h = readHeader(der, pos, end);
    if (!h) break;
    out.push({ tag: der[pos]!, start: pos, contentStart: h.contentStart, end: h.contentEnd });
    pos = h.contentEnd;
  }
  return out;
}

/**
 * Checks the unsigned wrapper of a signed object (certificate, CRL, CSR):
 * SEQUENCE { tbs SEQUENCE, algorithm SEQUENCE, signature BIT STRING with 0
 * unused bits }. When the signed part carries its own copy of the algorithm
 * (certificates and CRLs: its first SEQUENCE child), both copies must be the
 * same bytes (RFC 5280 4.1.1.2, 5.1.1.2). Parsers ignore these outer bytes, so
 * without this check they could be altered while the signature still verifies.
 */
export function hasStrictSignedWrapper(der: Uint8Array, innerAlgorithm: boolean): boolean {
  const top = children(der, 0, der.length)[0];
  if (!top || top.tag !== 0x30) return false;
  const parts = children(der, top.contentStart, top.end);
  const [tbs, alg, sig] = parts;
  if (parts.length !== 3 || tbs?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03) return false;
  if (sig.contentStart >= sig.end || der[sig.contentStart] !== 0) return false;
  const algBytes = Buffer.from(der.subarray(alg.start, alg.end));
  if (innerAlgorithm) {
    const inner = children(der, tbs.contentStart, tbs.end).find((e) => e.tag === 0x30);
    return inner !== undefined && algBytes.equals(Buffer.from(der.subarray(inner.start, inner.end)));
  }
  // No signed copy to compare with (CSR): require OID, then nothing, a DER NULL, or a parameter SEQUENCE.
  const [oid, params, ...rest] = children(der, alg.contentStart, alg.end);
  if (oid?.tag !== 0x06 || rest.length > 0) return false;
  return params === undefined || (params.tag === 0x05 && params.end === params.contentStart) || params.tag === 0x30;
}
