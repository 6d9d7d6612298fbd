/** PkiError: a stable code for the wire and a safe message for the user; library errors never leak. */

export type PkiErrorCode =
  | "BAD_CSR"
  | "WEAK_KEY"
  | "UNTRUSTED"
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "REVOKED"
  | "WRONG_OWNER"
  | "BAD_USAGE"
  | "BAD_CRL"
  | "STALE_CRL"
  | "BAD_CERT"
  // Time-stamp tokens (ENVELOPE.md V11): each way a token can fail has its own code.
  | "TIMESTAMP_MALFORMED"
  | "TIMESTAMP_BAD_SIGNATURE"
  | "TIMESTAMP_UNTRUSTED"
  | "TIMESTAMP_NOT_TSA"
  | "TIMESTAMP_REVOKED"
  | "TIMESTAMP_IMPRINT_MISMATCH";

export class PkiError extends Error {
  override readonly name = "PkiError";
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs `fn`; any exception that is not already a PkiError becomes one with `code`
 * and `message`. The library's own text stays out of the message (it may echo
 * attacker-chosen bytes) but is kept as `cause` for the log.
 */
export async function wrapAsync<T>(code: PkiErrorCode, message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asPkiError(err, code, message);
  }
}

export function wrapSync<T>(code: PkiErrorCode, message: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asPkiError(err, code, message);
  }
}

export function asPkiError(err: unknown, code: PkiErrorCode, message: string): PkiError {
  if (err instanceof PkiError) return err;
  const wrapped = new PkiError(code, message);
  (wrapped as { cause?: unknown }).cause = err;
  return wrapped;
}
