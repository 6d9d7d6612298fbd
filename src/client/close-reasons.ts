/** Why a client connection could not be made or ended: trust refusals, socket errors and the server's last word, in words a person reads. */
import { CONTROL, decodeServerMessage, type Frame } from "../protocol/index.ts";
import { ClientError, RemoteError, TrustError } from "./errors.ts";

/** errno-style codes (ECONNRESET, EPIPE…): the network failed; certificate verdicts have other codes (CERT_HAS_EXPIRED…). */
export function isNetworkCode(code: string | undefined): boolean {
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** Certificate problems OpenSSL reports for a peer whose certificate is out of its validity period. */
const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "ERR_TLS_CERT_HAS_EXPIRED", "ERR_TLS_CERT_NOT_YET_VALID"]);

/**
 * The refusal of a server whose certificate does not verify against the pinned CA (P2): exit 3,
 * the likely causes and what to do, never a network error that invites retrying.
 */
export function serverTrustError(host: string, port: number, error: (Error & { code?: string }) | undefined): TrustError {
  const where = `cannot trust the server at ${host}:${port}: its certificate`;
  const code = error?.code ?? "";
  const expired = EXPIRY_CODES.has(code) || /expired|not yet valid/i.test(error?.message ?? "");
  if (expired) return new TrustError("server", `${where} has expired or is not valid yet (check this computer's clock; if it is right, ask the operator to renew the server certificate)`);
  return new TrustError(
    "server",
    `${where} is not from the pinned CA (someone may be intercepting the connection, or the server's CA changed); do not send anything to it, ask the operator whether the CA changed, and if it did, register again with the new CA fingerprint`,
  );
}

/** Socket errors in words a person reads (Bun says "Failed to connect" for a refused port). */
export function connectReason(error: Error & { code?: string }): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
      return "no such host";
    case "ETIMEDOUT":
      return "timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    default:
      return error.message.replace(/^Failed to connect$/, "connection refused").replace(/^getaddrinfo ENOTFOUND .*/, "no such host");
  }
}

/**
 * Why the server closed: a fatal ERROR it sent last (still queued for the reader) is the
 * reason, so a sender that finds the socket closed first (a pipelined upload, P30) reports
 * STORAGE_FAILED and not a bare "closed" (test/security/resources.test.ts, a full disk).
 */
export function closedBecause(queued: readonly Frame[]): Error {
  for (const frame of queued) {
    if (frame.kind !== CONTROL) continue;
    try {
      const m = decodeServerMessage(frame.payload);
      if (m.type === "ERROR") return new RemoteError(m.code, m.message, m.retryAfter, m.upload);
    } catch {
      // not a message: the plain reason stands
    }
  }
  return new ClientError("the server closed the connection");
}
