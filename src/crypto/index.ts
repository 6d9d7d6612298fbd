/** The public API of src/crypto: envelope, key wrap, image signatures and their time-stamp attribute. Pure: no file or network I/O. */
export {
  CHUNK_SIZE,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION,
  MAX_HEADER_SIZE,
  MAX_PLAINTEXT_SIZE,
  NONCE_PREFIX_SIZE,
  TAG_SIZE,
  cipherSize,
  decodeHeader,
  encodeHeader,
  newHeader,
  type EnvelopeHeader,
} from "./envelope-header.ts";
export {
  CONTENT_KEY_SIZE,
  EnvelopeError,
  generateContentKey,
  openStream,
  openStreamInto,
  sealStream,
  sealStreamInto,
  sealStreamWithHeadroom,
  type EnvelopeErrorCode,
} from "./envelope-stream.ts";
export { importWrapKey, wrapKey, wrapKeyWith, unwrapKey, unwrapStorageKey, type StorageKeys } from "./key-wrap.ts";
export { ECDH_WRAPPED_SIZE, importEcdhWrapKey, isEcdhWrapped, unwrapKeyEcdh, wrapKeyEcdh } from "./ecdh-wrap.ts";
export { readCertificate, type CertificateInfo } from "./certificate-info.ts";
export {
  IMAGE_DIGEST_SIZE,
  MAX_SIGNATURE_SIZE,
  SignatureError,
  createImageDigest,
  signImage,
  verifyImageSignature,
  verifyImageSignatureShape,
  type ImageDigest,
  type SignImageParams,
  type SignatureErrorCode,
  type VerifiedImageSignature,
  type VerifyImageSignatureParams,
} from "./image-signature.ts";
export { addTimeStampToken, extractTimeStampToken, removeTimeStampToken, signatureValueOf } from "./signature-timestamp.ts";
