/** Client-side errors: each knows its exit code (0 ok, 1 error, 2 usage, 3 trust or verification refused). */

export class ClientError extends Error {
  override readonly name = "ClientError";
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message);
  }
}

/** The server answered ERROR: its stable code and its words. */
export class RemoteError extends ClientError {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message, code === "CERT_REVOKED" || code === "CERT_EXPIRED" || code === "CERT_UNKNOWN" ? 3 : 1);
  }
}

/** Trust refused: unpinned or mismatching CA, a certificate or signature that does not verify. */
export class TrustError extends ClientError {
  constructor(
    readonly check: string,
    message: string,
  ) {
    super(message, 3);
  }
}

/** A different file already has the name an image would be saved under; nothing was replaced. */
export class SaveConflictError extends ClientError {}
