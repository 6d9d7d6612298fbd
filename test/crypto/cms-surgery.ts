/** Test-only edits of a CMS signature: find the SignerInfo's parts and splice bytes in place. */
import { TAG, at, children, parseDer } from "../../src/encoding/der.ts";

function signerInfo(cms: Uint8Array) {
  const ci = children(parseDer(cms));
  const sd = children(at(children(at(ci, 1)), 0));
  const signerInfos = sd[sd.length - 1]!;
  return children(at(children(signerInfos, TAG.SET), 0));
}

function offsetIn(outer: Uint8Array, inner: Uint8Array): number {
  return inner.byteOffset - outer.byteOffset;
}

/** The signed attributes as signed: the [0] element with its tag changed to SET. */
export function signedAttributesToSign(cms: Uint8Array): Uint8Array {
  const attrs = at(signerInfo(cms), 3, TAG.CONTEXT_0).bytes.slice();
  attrs[0] = TAG.SET;
  return attrs;
}

/** A copy of `cms` with the SignerInfo's signature value replaced (same length). */
export function withSignature(cms: Uint8Array, signature: Uint8Array): Uint8Array {
  const value = at(signerInfo(cms), 5, TAG.OCTET_STRING).content;
  if (value.length !== signature.length) throw new Error("signature length differs");
  const out = cms.slice();
  out.set(signature, offsetIn(cms, value));
  return out;
}

/** A copy of `cms` with the first occurrence of `from` replaced by `to` (same length). */
export function replaceBytes(cms: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const at = Buffer.from(cms).indexOf(Buffer.from(from));
  if (at < 0 || from.length !== to.length) throw new Error("pattern not found or lengths differ");
  const out = cms.slice();
  out.set(to, at);
  return out;
}

/** RSASSA-PKCS1-v1_5/SHA-256 signature of `data` with a PKCS#8 key (to forge test cases). */
export async function rsaSign(privateKeyPkcs8: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const key = await crypto.subtle.importKey("pkcs8", privateKeyPkcs8 as Uint8Array<ArrayBuffer>, alg, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign(alg, key, data as Uint8Array<ArrayBuffer>));
}
