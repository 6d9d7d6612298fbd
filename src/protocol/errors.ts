/** Stable wire error codes (PROTOCOL.md section 5) and the typed protocol error. */

export const ERROR_CODES = {
  BAD_FRAME: true,
  FRAME_TOO_LARGE: true,
  BAD_MESSAGE: true,
  UNKNOWN_MESSAGE: true,
  HELLO_REQUIRED: true,
  UNSUPPORTED_VERSION: true,
  TIMEOUT: true,
  TOO_MANY_CONNECTIONS: true,
  CERT_UNKNOWN: true,
  CERT_REVOKED: true,
  CERT_EXPIRED: true,
  AUTH_REQUIRED: false,
  AUTH_FAILED: true,
  THROTTLED: true,
  BAD_USERNAME: false,
  WEAK_PASSWORD: false,
  BAD_CSR: false,
  WEAK_KEY: false,
  BAD_NAME: false,
  BAD_IMAGE: false,
  TOO_LARGE: false,
  NAME_TAKEN: false,
  BUSY: false,
  BAD_UPLOAD: true,
  NOT_FOUND: false,
  STORAGE_FAILED: true,
  INTERNAL: true,
  // Devices, quotas, deletion (PROTOCOL.md M20–M29).
  QUOTA_EXCEEDED: false,
  RATE_LIMITED: false,
  LINK_REFUSED: true,
  /** The server is stopping (SIGTERM, SIGINT): clients reconnect later (O1–O3). */
  SHUTTING_DOWN: true,
  // Membership (PROTOCOL.md M5, M10).
  INVITE_UNKNOWN: true,
  INVITE_USED: true,
  INVITE_EXPIRED: true,
  INVITE_WRONG_USER: true,
  ACCOUNT_DISABLED: true,
  // Pipelined posting, version 2 (PROTOCOL.md P30–P37).
  /** An upload id already in flight, or a POST_SIGNATURE for an id that is not. */
  UNKNOWN_UPLOAD: true,
  /** A POST_IMAGE while MAX_UPLOADS_IN_FLIGHT uploads of this connection are in flight. */
  TOO_MANY_UPLOADS: true,
  /** The signature sent after the data does not verify for this owner, name and content type; nothing kept. */
  BAD_SIGNATURE: false,
  // Ranged DOWNLOAD, version 4 (PROTOCOL.md P23a).
  /** A DOWNLOAD whose `from` is not a byte of the image's ciphertext (0 ≤ from < dataSize). */
  BAD_RANGE: false,
} as const satisfies Record<string, boolean>;

/** A code from the table; the value above says whether it closes the connection. */
export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isFatal(code: ErrorCode): boolean {
  return ERROR_CODES[code];
}

/**
 * An error the peer may see: a stable code and a message safe to show a user.
 * The internal cause, if any, stays on the server side (log only).
 */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfter?: number,
    /** For UNSUPPORTED_VERSION: the versions the server speaks, sent as ERROR.versions (P10). */
    readonly versions?: readonly number[],
  ) {
    super(message);
  }
  /** Version 2 (P30): the upload this refusal is about, sent as ERROR.upload. */
  upload?: number;
}

/** `error` said of upload `id` (P30): a ProtocolError gets the id, anything else is left for the session. */
export function aboutUpload(error: unknown, id: number): unknown {
  if (error instanceof ProtocolError && error.upload === undefined) error.upload = id;
  return error;
}
