/** The CMS signed attributes of an image signature (ENVELOPE.md G5, G6): build and read. */
import { OID } from "./cms-oids.ts";
import { compareBytes, sameBytes } from "../encoding/bytes.ts";
import { DerError, TAG, at, children, tlv, type Tlv } from "../encoding/der.ts";
import { decodeTime, encodeTime } from "./der-time.ts";
import { BINDING_LABEL, BINDING_SEPARATOR } from "./labels.ts";
import { fieldsProblem } from "./text-fields.ts";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The binding string (G6), or null if a field breaks H5/H6. The fields cannot contain
 * the separator, so the string names exactly one (owner, name, contentType).
 */
export function bindingString(owner: string, name: string, contentType: string): string | null {
  if (fieldsProblem(owner, name, contentType) !== null) return null;
  return [BINDING_LABEL, owner, name, contentType].join(BINDING_SEPARATOR);
}

function attribute(type: Uint8Array, value: Uint8Array): Uint8Array {
  return tlv(TAG.SEQUENCE, type, tlv(TAG.SET, value));
}

/** The attribute encodings, sorted as DER requires of a SET OF (G5). */
export function buildSignedAttributes(p: { digest: Uint8Array; binding: string; signingTime: Date }): Uint8Array[] {
  const hint = tlv(TAG.SEQUENCE, tlv(TAG.UTF8_STRING, utf8.encode(p.binding)), OID.data);
  return [
    attribute(OID.contentType, OID.data),
    attribute(OID.messageDigest, tlv(TAG.OCTET_STRING, p.digest)),
    attribute(OID.signingTime, encodeTime(p.signingTime)),
    attribute(OID.contentHint, hint),
  ].sort(compareBytes);
}

export interface SignedAttributes {
  contentType: Uint8Array;
  messageDigest: Uint8Array;
  signingTime: Date;
  /** contentHint's description, or null if there is no contentHint or it has no description. */
  hintDescription: string | null;
  /** contentHint's content type OID encoding, or null. */
  hintContentType: Uint8Array | null;
}

function readHint(value: Tlv): { description: string | null; contentType: Uint8Array } {
  const parts = children(value, TAG.SEQUENCE);
  if (parts.length === 1) return { description: null, contentType: at(parts, 0, TAG.OID).bytes };
  if (parts.length !== 2) throw new DerError("bad contentHint");
  let description: string;
  try {
    description = strictUtf8.decode(at(parts, 0, TAG.UTF8_STRING).content);
  } catch {
    throw new DerError("contentHint description is not UTF-8");
  }
  return { description, contentType: at(parts, 1, TAG.OID).bytes };
}

/** Reads the [0] signedAttrs element (V2): known attributes exactly once, one value each. */
export function readSignedAttributes(element: Tlv): SignedAttributes {
  const seen = new Map<string, Tlv>();
  const known = [OID.contentType, OID.messageDigest, OID.signingTime, OID.contentHint];
  for (const attr of children(element, TAG.CONTEXT_0)) {
    const [type, values, extra] = children(attr, TAG.SEQUENCE);
    if (type === undefined || values === undefined || extra !== undefined || type.tag !== TAG.OID) throw new DerError("bad attribute");
    if (!known.some((k) => sameBytes(k, type.bytes))) continue; // other signed attributes are tolerated (OpenSSL adds some)
    const key = type.bytes.join(".");
    if (seen.has(key)) throw new DerError("attribute appears twice");
    const list = children(values, TAG.SET);
    if (list.length !== 1) throw new DerError("attribute must have exactly one value");
    seen.set(key, at(list, 0));
  }
  const get = (oid: Uint8Array) => seen.get(oid.join("."));
  const contentType = get(OID.contentType);
  const digest = get(OID.messageDigest);
  const time = get(OID.signingTime);
  if (contentType?.tag !== TAG.OID || digest?.tag !== TAG.OCTET_STRING || time === undefined) {
    throw new DerError("contentType, messageDigest and signingTime are required");
  }
  const hintValue = get(OID.contentHint);
  const hint = hintValue === undefined ? null : readHint(hintValue);
  return {
    contentType: contentType.bytes,
    messageDigest: digest.content,
    signingTime: decodeTime(time),
    hintDescription: hint?.description ?? null,
    hintContentType: hint?.contentType ?? null,
  };
}
