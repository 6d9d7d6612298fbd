/** The strict outer shape of a signed object (certificate, CRL, CSR), checked before any library parser. */
import { sameBytes } from "../encoding/bytes.ts";
import { children, DerError, readTlv, TAG } from "../encoding/der.ts";

/**
 * Why: asn1js (under @peculiar/x509) tolerates lengths that disagree with the
 * bytes present, so a certificate whose outer or inner lengths were altered
 * still parses and its signature still verifies. Refusing anything that is not
 * well-formed DER (isStrictDer, src/encoding/der.ts) keeps "the bytes we
 * checked" and "the certificate we trust" the same thing, which the server's
 * exact-bytes lookup relies on.
 *
 * This checks the unsigned wrapper of DER already accepted by isStrictDer:
 * SEQUENCE { tbs SEQUENCE, algorithm SEQUENCE, signature BIT STRING with 0
 * unused bits }. When the signed part carries its own copy of the algorithm
 * (certificates and CRLs: its first SEQUENCE child), both copies must be the
 * same bytes (RFC 5280 4.1.1.2, 5.1.1.2). Parsers ignore these outer bytes, so
 * without this check they could be altered while the signature still verifies.
 */
export function hasStrictSignedWrapper(der: Uint8Array, innerAlgorithm: boolean): boolean {
  try {
    const top = readTlv(der, 0, true);
    if (top.tag !== TAG.SEQUENCE) return false;
    const parts = children(top, undefined, true);
    const [tbs, alg, sig] = parts;
    if (parts.length !== 3 || tbs?.tag !== TAG.SEQUENCE || alg?.tag !== TAG.SEQUENCE || sig?.tag !== TAG.BIT_STRING) return false;
    if (sig.content.length === 0 || sig.content[0] !== 0) return false;
    if (innerAlgorithm) {
      const inner = children(tbs, undefined, true).find((e) => e.tag === TAG.SEQUENCE);
      return inner !== undefined && sameBytes(alg.bytes, inner.bytes);
    }
    // No signed copy to compare with (CSR): require OID, then nothing, a DER NULL, or a parameter SEQUENCE.
    const [oid, params, ...rest] = children(alg, undefined, true);
    if (oid?.tag !== TAG.OID || rest.length > 0) return false;
    return params === undefined || (params.tag === TAG.NULL && params.content.length === 0) || params.tag === TAG.SEQUENCE;
  } catch (e) {
    if (e instanceof DerError) return false;
    throw e;
  }
}
