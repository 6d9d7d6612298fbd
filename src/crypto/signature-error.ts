/** The signature layer's error type: a stable code (ENVELOPE.md section 7) and a safe message. */

export type SignatureErrorCode = "BAD_SIGNATURE" | "MALFORMED" | "BINDING_MISMATCH" | "DIGEST_MISMATCH";

export class SignatureError extends Error {
  override readonly name = "SignatureError";
  constructor(
    readonly code: SignatureErrorCode,
    message: string,
  ) {
    super(message);
  }
}
