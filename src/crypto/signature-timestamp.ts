/** The time-stamp token inside an image signature (ENVELOPE.md G8): read the signature value, add or take out the unsigned attribute. */
import { OID } from "./cms-oids.ts";
import { compareBytes, sameBytes } from "../encoding/bytes.ts";
import { DerError, TAG, at, children, parseDer, tlv, type Tlv } from "../encoding/der.ts";
import { MAX_SIGNATURE_SIZE } from "./image-signature-verify.ts";
import { SignatureError } from "./signature-error.ts";

function malformed(message: string): never {
  throw new SignatureError("MALFORMED", message);
}

/** The path from the ContentInfo down to the one SignerInfo, as parsed elements. */
interface SignerPath {
  contentInfo: Tlv[];
  signedData: Tlv[];
  signerInfo: Tlv[];
  /** Index of SignerInfo.signature; the optional [1] unsignedAttrs follows it. */
  signatureAt: number;
}

function signerPath(cms: Uint8Array): SignerPath {
  try {
    if (cms.length > MAX_SIGNATURE_SIZE) malformed("the signature is larger than 16 KiB");
    const contentInfo = children(parseDer(cms), TAG.SEQUENCE);
    if (contentInfo.length !== 2 || !sameBytes(at(contentInfo, 0).bytes, OID.signedData)) malformed("not a CMS SignedData");
    const wrapper = children(at(contentInfo, 1, TAG.CONTEXT_0));
    if (wrapper.length !== 1) malformed("not a CMS SignedData");
    const signedData = children(at(wrapper, 0), TAG.SEQUENCE);
    const signerInfos = children(at(signedData, signedData.length - 1), TAG.SET);
    if (signerInfos.length !== 1) malformed("exactly one signer is required");
    const signerInfo = children(at(signerInfos, 0), TAG.SEQUENCE);
    const signatureAt = signerInfo[3]?.tag === TAG.CONTEXT_0 ? 5 : 4;
    at(signerInfo, signatureAt - 1, TAG.SEQUENCE); // signatureAlgorithm
    at(signerInfo, signatureAt, TAG.OCTET_STRING);
    const rest = signerInfo.slice(signatureAt + 1);
    if (rest.length > 1 || (rest.length === 1 && rest[0]!.tag !== TAG.CONTEXT_1)) malformed("unexpected data in SignerInfo");
    return { contentInfo, signedData, signerInfo, signatureAt };
  } catch (e) {
    if (e instanceof DerError) malformed(`the signature does not parse: ${e.message}`);
    throw e;
  }
}

/** The unsigned attributes split into the time-stamp token (if any) and the others, kept as they are. */
function unsignedAttributes(path: SignerPath): { token: Uint8Array | null; others: Uint8Array[] } {
  const element = path.signerInfo[path.signatureAt + 1];
  if (element === undefined) return { token: null, others: [] };
  let token: Uint8Array | null = null;
  const others: Uint8Array[] = [];
  try {
    for (const attr of children(element, TAG.CONTEXT_1)) {
      const [type, values, extra] = children(attr, TAG.SEQUENCE);
      if (type?.tag !== TAG.OID || values === undefined || extra !== undefined) malformed("bad unsigned attribute");
      if (!sameBytes(type.bytes, OID.signatureTimeStampToken)) {
        others.push(attr.bytes);
        continue;
      }
      const list = children(values, TAG.SET);
      if (token !== null || list.length !== 1 || list[0]!.tag !== TAG.SEQUENCE) malformed("the time-stamp attribute must appear once with one token");
      token = list[0]!.bytes;
    }
  } catch (e) {
    if (e instanceof DerError) malformed(`the unsigned attributes do not parse: ${e.message}`);
    throw e;
  }
  return { token, others };
}

/** The SignerInfo's signature value: the bytes the server time-stamps (G9). */
export function signatureValueOf(cms: Uint8Array): Uint8Array {
  const path = signerPath(cms);
  return path.signerInfo[path.signatureAt]!.content.slice();
}

/** The token in id-aa-signatureTimeStampToken, or null if the signature carries none. */
export function extractTimeStampToken(cms: Uint8Array): Uint8Array | null {
  return unsignedAttributes(signerPath(cms)).token?.slice() ?? null;
}

/**
 * The same signature with `tokenDer` as its id-aa-signatureTimeStampToken, replacing any earlier
 * token (G8). Only the unsigned attributes and the enclosing lengths change: the signed
 * attributes, the signature value and the certificates stay byte for byte, so the owner's
 * signature still verifies. The result obeys V1 (at most MAX_SIGNATURE_SIZE).
 */
export function addTimeStampToken(cms: Uint8Array, tokenDer: Uint8Array): Uint8Array {
  const path = signerPath(cms);
  let token: Tlv;
  try {
    token = parseDer(tokenDer);
  } catch {
    malformed("the time-stamp token is not one DER element");
  }
  if (token.tag !== TAG.SEQUENCE) malformed("the time-stamp token is not a ContentInfo");
  const { others } = unsignedAttributes(path);
  const attribute = tlv(TAG.SEQUENCE, OID.signatureTimeStampToken, tlv(TAG.SET, tokenDer));
  return withUnsignedAttributes(path, [...others, attribute]);
}

/**
 * The same signature without its time-stamp token (a receiver saves a token only if it
 * used it, T5); the other unsigned attributes and every signed byte stay as they are.
 */
export function removeTimeStampToken(cms: Uint8Array): Uint8Array {
  const path = signerPath(cms);
  const { token, others } = unsignedAttributes(path);
  return token === null ? cms : withUnsignedAttributes(path, others);
}

/** Re-encodes the SignerInfo with `attributes` as its unsigned attributes (none: the element is left out). */
function withUnsignedAttributes(path: SignerPath, attributes: Uint8Array[]): Uint8Array {
  const kept = path.signerInfo.slice(0, path.signatureAt + 1).map((t) => t.bytes);
  const unsigned = attributes.length > 0 ? [tlv(TAG.CONTEXT_1, ...attributes.sort(compareBytes))] : []; // DER SET OF order
  const signerInfo = tlv(TAG.SEQUENCE, ...kept, ...unsigned);
  const signedData = tlv(TAG.SEQUENCE, ...path.signedData.slice(0, -1).map((t) => t.bytes), tlv(TAG.SET, signerInfo));
  const out = tlv(TAG.SEQUENCE, path.contentInfo[0]!.bytes, tlv(TAG.CONTEXT_0, signedData));
  if (out.length > MAX_SIGNATURE_SIZE) malformed("the signature with its time-stamp would be larger than 16 KiB (V1)");
  return out;
}
