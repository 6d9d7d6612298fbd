/** Image signatures: detached CMS SignedData over the plaintext (ENVELOPE.md sections 4 and 5). */
export { createImageDigest, IMAGE_DIGEST_SIZE, type ImageDigest } from "./image-digest.ts";
export { signImage, type SignImageParams } from "./image-signature-sign.ts";
export {
  MAX_SIGNATURE_SIZE,
  verifyImageSignature,
  verifyImageSignatureShape,
  type VerifiedImageSignature,
  type VerifyImageSignatureParams,
} from "./image-signature-verify.ts";
export { SignatureError, type SignatureErrorCode } from "./signature-error.ts";
