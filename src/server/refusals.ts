/** What a refused certificate is told (P5, P5a): the words are the same wherever the refusal happens. */
import type { ErrorCode } from "../protocol/index.ts";

export const REVOKED_WHILE_CONNECTED =
  "your certificate was revoked while you were connected; this connection is closed. Enrol a new key with 'sis register'";

/** Membership (M10): the same words at HELLO, at a request, and to an open session the watch ends. */
export const ACCOUNT_DISABLED_MESSAGE = "your account has been disabled by the server's administrator; this connection is closed. Ask them to enable it";

export function refusalMessage(code: ErrorCode): string {
  switch (code) {
    case "ACCOUNT_DISABLED":
      return ACCOUNT_DISABLED_MESSAGE;
    case "CERT_REVOKED":
      return "your certificate has been revoked; enrol a new key with 'sis register'";
    case "CERT_EXPIRED":
      // RN7: an expired certificate cannot renew itself; only the password enrols a new key.
      return "your certificate has expired and cannot be renewed; re-enrol with 'sis register' and your password";
    default:
      return "this server did not issue your certificate; register with 'sis register'";
  }
}
