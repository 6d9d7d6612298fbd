/** The envelope's error type: a stable code (ENVELOPE.md section 7) and a safe message. */

export type EnvelopeErrorCode =
  | "BAD_HEADER"
  | "BAD_KEY"
  | "CHUNK_AUTH_FAILED"
  | "TRUNCATED"
  | "TRAILING_DATA"
  | "SIZE_MISMATCH";

export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
