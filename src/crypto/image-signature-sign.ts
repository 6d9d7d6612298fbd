/** signImage(): a detached CMS SignedData over an image digest (ENVELOPE.md section 4). */
import { buf } from "./bytes.ts";
import { readCertificate } from "./certificate-info.ts";
import { OID } from "./cms-oids.ts";
import { TAG, tlv } from "../encoding/der.ts";
import { IMAGE_DIGEST_SIZE } from "./image-digest.ts";
import { bindingString, buildSignedAttributes } from "./signed-attributes.ts";
import { pkcs8ImportMemo } from "./pkcs8-import-memo.ts";
import { SignatureError } from "./signature-error.ts";

export const RSA_PKCS1_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const VERSION_1 = tlv(TAG.INTEGER, new Uint8Array([1]));
const NULL = tlv(TAG.NULL);

export interface SignImageParams {
  /** SHA-256 of the plaintext image (createImageDigest). */
  digest: Uint8Array;
  owner: string;
  name: string;
  contentType: string;
  /** The signer's X.509 certificate (DER); embedded in the signature. */
  certDer: Uint8Array;
  privateKeyPkcs8: Uint8Array;
  /** Defaults to now. */
  signingTime?: Date;
}

/** Imported once per key buffer (src/crypto/pkcs8-import-memo.ts): `sis post DIR` signs every image with one key. */
const importSigningKey = pkcs8ImportMemo(RSA_PKCS1_SHA256, ["sign"]);

/** Returns the DER of a CMS ContentInfo holding a detached SignedData (G1..G7). */
export async function signImage(p: SignImageParams): Promise<Uint8Array> {
  if (p.digest.length !== IMAGE_DIGEST_SIZE) throw new RangeError("signImage: digest is not 32 bytes");
  const binding = bindingString(p.owner, p.name, p.contentType);
  if (binding === null) throw new RangeError("signImage: owner, name or content type breaks ENVELOPE.md H5/H6");
  let cert;
  try {
    cert = readCertificate(p.certDer);
  } catch {
    throw new SignatureError("MALFORMED", "the signer certificate does not parse");
  }
  if (!cert.rsa) throw new SignatureError("MALFORMED", "the signer key is not RSA");

  const attributes = buildSignedAttributes({ digest: p.digest, binding, signingTime: p.signingTime ?? new Date() });
  // RFC 5652 5.4: the signature covers the attributes encoded as SET OF (tag 0x31) ...
  const signed = tlv(TAG.SET, ...attributes);
  const privateKey = await importSigningKey(p.privateKeyPkcs8);
  const signature = new Uint8Array(await crypto.subtle.sign(RSA_PKCS1_SHA256, privateKey, signed));

  // G4: a key that does not match the certificate would give signatures nobody can verify.
  const publicKey = await crypto.subtle.importKey("spki", buf(cert.spki), RSA_PKCS1_SHA256, false, ["verify"]);
  if (!(await crypto.subtle.verify(RSA_PKCS1_SHA256, publicKey, signature, signed))) {
    throw new SignatureError("BAD_SIGNATURE", "the private key does not match the signer certificate");
  }

  const signerInfo = tlv(
    TAG.SEQUENCE,
    VERSION_1,
    tlv(TAG.SEQUENCE, cert.issuer, tlv(TAG.INTEGER, cert.serial)),
    tlv(TAG.SEQUENCE, OID.sha256),
    tlv(TAG.CONTEXT_0, ...attributes), // ... and are carried as [0] IMPLICIT with the same content
    tlv(TAG.SEQUENCE, OID.sha256WithRSAEncryption, NULL),
    tlv(TAG.OCTET_STRING, signature),
  );
  const signedData = tlv(
    TAG.SEQUENCE,
    VERSION_1,
    tlv(TAG.SET, tlv(TAG.SEQUENCE, OID.sha256)),
    tlv(TAG.SEQUENCE, OID.data), // detached: no eContent
    tlv(TAG.CONTEXT_0, cert.der),
    tlv(TAG.SET, signerInfo),
  );
  return tlv(TAG.SEQUENCE, OID.signedData, tlv(TAG.CONTEXT_0, signedData));
}
