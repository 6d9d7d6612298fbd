/** verifyImageSignature(): the V1..V7 checks of ENVELOPE.md section 5 (no chain check). */
import { buf, constantTimeEqual } from "./bytes.ts";
import { readCertificate, type CertificateInfo } from "./certificate-info.ts";
import { OID } from "./cms-oids.ts";
import { sameBytes } from "../encoding/bytes.ts";
import { DerError, TAG, at, children, parseDer, type Tlv } from "../encoding/der.ts";
import { RSA_PKCS1_SHA256 } from "./image-signature-sign.ts";
import { bindingString, readSignedAttributes } from "./signed-attributes.ts";
import { SignatureError } from "./signature-error.ts";

/** V1: 16 KiB; sis signatures are under 4 KiB, and the base64 of this bound fits an IMAGE control frame beside every other field. */
export const MAX_SIGNATURE_SIZE = 16 * 1024;
const MIN_RSA_BITS = 2048;

export interface VerifyImageSignatureParams {
  cms: Uint8Array;
  /** SHA-256 of the decrypted image. */
  digest: Uint8Array;
  owner: string;
  name: string;
  contentType: string;
}

export interface VerifiedImageSignature {
  /** The signer's certificate as embedded; the caller MUST check it against the pinned CA (V8). */
  signerCertDer: Uint8Array;
  signingTime: Date;
}

function malformed(message: string): never {
  throw new SignatureError("MALFORMED", message);
}

/** An AlgorithmIdentifier with the given OID and absent or NULL parameters. */
function isAlgorithm(element: Tlv, oid: Uint8Array): boolean {
  const parts = children(element, TAG.SEQUENCE);
  const params = parts[1];
  return parts.length <= 2 && sameBytes(at(parts, 0).bytes, oid) && (params === undefined || params.bytes.length === 2 && params.tag === TAG.NULL);
}

interface Parsed {
  signer: CertificateInfo;
  signedAttrs: Tlv;
  signature: Uint8Array;
}

/** V2, V3: the structure of a detached SignedData with one SignerInfo, and its signer certificate. */
function parse(cms: Uint8Array): Parsed {
  const contentInfo = children(parseDer(cms), TAG.SEQUENCE);
  if (contentInfo.length !== 2 || !sameBytes(at(contentInfo, 0).bytes, OID.signedData)) malformed("not a CMS SignedData");
  const wrapper = children(at(contentInfo, 1, TAG.CONTEXT_0));
  if (wrapper.length !== 1) malformed("not a CMS SignedData");
  const sd = children(at(wrapper, 0), TAG.SEQUENCE);
  let i = 0;
  const version = at(sd, i++, TAG.INTEGER).content;
  if (version.length !== 1 || (version[0] !== 1 && version[0] !== 3)) malformed("unsupported SignedData version");
  if (!children(at(sd, i++), TAG.SET).some((alg) => isAlgorithm(alg, OID.sha256))) malformed("SHA-256 is not among the digest algorithms");
  const encap = children(at(sd, i++), TAG.SEQUENCE);
  if (encap.length !== 1 || !sameBytes(at(encap, 0).bytes, OID.data)) malformed("the signature must be detached, over id-data");
  const certificates = sd[i]?.tag === TAG.CONTEXT_0 ? children(at(sd, i++)) : [];
  if (sd[i]?.tag === TAG.CONTEXT_1) i++; // crls: ignored
  const signerInfos = children(at(sd, i++), TAG.SET);
  if (i !== sd.length) malformed("unexpected data after signerInfos");
  if (signerInfos.length !== 1) malformed("exactly one signer is required");

  const si = children(at(signerInfos, 0), TAG.SEQUENCE);
  at(si, 0, TAG.INTEGER);
  const sid = at(si, 1);
  if (!isAlgorithm(at(si, 2), OID.sha256)) malformed("the digest algorithm must be SHA-256");
  const signedAttrs = at(si, 3, TAG.CONTEXT_0);
  const sigAlg = at(si, 4);
  if (!isAlgorithm(sigAlg, OID.sha256WithRSAEncryption) && !isAlgorithm(sigAlg, OID.rsaEncryption)) malformed("the signature algorithm must be RSA PKCS#1 v1.5");
  const signature = at(si, 5, TAG.OCTET_STRING).content;
  if (si.length > 7 || (si.length === 7 && at(si, 6).tag !== TAG.CONTEXT_1)) malformed("unexpected data in SignerInfo");

  const candidates = certificates.filter((c) => c.tag === TAG.SEQUENCE).map((c) => readCertificate(c.bytes));
  let signer: CertificateInfo | undefined;
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = children(sid);
    signer = candidates.find((c) => issuer !== undefined && serial?.tag === TAG.INTEGER && sameBytes(c.issuer, issuer.bytes) && sameBytes(c.serial, serial.content));
  } else if (sid.tag === TAG.CONTEXT_PRIMITIVE_0) {
    signer = candidates.find((c) => c.subjectKeyId !== null && sameBytes(c.subjectKeyId, sid.content));
  }
  if (signer === undefined) malformed("the signer certificate is not in the signature");
  if (!signer.rsa) malformed("the signer key is not RSA");
  return { signer, signedAttrs, signature };
}

/** Verifies an image signature (V1..V7) and returns the signer certificate; see ENVELOPE.md section 5. */
export function verifyImageSignature(p: VerifyImageSignatureParams): Promise<VerifiedImageSignature> {
  return verify(p, p.digest);
}

/**
 * V1..V4, V6 and V7 without V5: what can be checked without the plaintext. The server runs it on a
 * signature that follows the data (PROTOCOL.md P34) before it commits; every receiver still checks
 * all of V1..V7 against the decrypted image.
 */
export function verifyImageSignatureShape(p: Omit<VerifyImageSignatureParams, "digest">): Promise<VerifiedImageSignature> {
  return verify(p, null);
}

async function verify(p: Omit<VerifyImageSignatureParams, "digest">, digest: Uint8Array | null): Promise<VerifiedImageSignature> {
  // V1: bound the work before any parsing.
  if (p.cms.length > MAX_SIGNATURE_SIZE) malformed("the signature is larger than 16 KiB");
  let parsed: Parsed;
  let attrs;
  try {
    parsed = parse(p.cms);
    attrs = readSignedAttributes(parsed.signedAttrs);
  } catch (e) {
    if (e instanceof SignatureError) throw e;
    if (e instanceof DerError) malformed(`the signature does not parse: ${e.message}`);
    throw e;
  }
  if (!sameBytes(attrs.contentType, OID.data)) malformed("the signed contentType is not id-data");

  // V4: the signature covers the received attribute bytes with the [0] tag read as SET (0x31).
  const signed = parsed.signedAttrs.bytes.slice();
  signed[0] = TAG.SET;
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey("spki", buf(parsed.signer.spki), RSA_PKCS1_SHA256, false, ["verify"]);
  } catch {
    malformed("the signer's public key is unusable");
  }
  if ((publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength < MIN_RSA_BITS) malformed("the signer's RSA key is shorter than 2048 bits");
  if (!(await crypto.subtle.verify(RSA_PKCS1_SHA256, publicKey, buf(parsed.signature), signed))) {
    throw new SignatureError("BAD_SIGNATURE", "the signature does not verify with the signer's certificate");
  }

  // V5: the digest decides whether this signature is about these bytes.
  if (digest !== null && !constantTimeEqual(attrs.messageDigest, digest)) {
    throw new SignatureError("DIGEST_MISMATCH", "the image does not match the signed digest");
  }

  // V6: the signature names this owner, name and content type, and the signer is the owner.
  const binding = bindingString(p.owner, p.name, p.contentType);
  if (binding === null || attrs.hintDescription !== binding || attrs.hintContentType === null || !sameBytes(attrs.hintContentType, OID.data)) {
    throw new SignatureError("BINDING_MISMATCH", "the signature does not name this owner, image name and content type");
  }
  const names = parsed.signer.commonNames;
  if (names.length !== 1 || names[0] !== p.owner) {
    throw new SignatureError("BINDING_MISMATCH", "the signer certificate does not belong to the image's owner");
  }
  return { signerCertDer: parsed.signer.der.slice(), signingTime: attrs.signingTime };
}
