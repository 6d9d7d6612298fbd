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
    /** Protocol version 2 (P30): the upload this refusal is about; absent when it is about the connection. */
    readonly upload?: number,
  ) {
    super(message, code === "CERT_REVOKED" || code === "CERT_EXPIRED" || code === "CERT_UNKNOWN" || code === "ACCOUNT_DISABLED" ? 3 : 1);
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

/** A verified image could not be saved (file system refused: name too long, permission, disk full…); nothing was left half-written. */
export class SaveError extends ClientError {}

/** A different file already has the name an image would be saved under; nothing was replaced. */
export class SaveConflictError extends SaveError {}

/** What to do about a failed save, by the file system's reason. */
export function fileErrorHint(error: unknown): string {
  switch ((error as NodeJS.ErrnoException)?.code) {
    case "ENAMETOOLONG":
      return "the owner must post it under a shorter name";
    case "ENOSPC":
    case "EDQUOT":
      return "free some space, or save elsewhere with -o";
    case "EFBIG":
      return "raise the limit (ulimit -f), or save elsewhere with -o";
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return "fix that folder's permissions, or save elsewhere with -o";
    default:
      return "fix that folder, or save elsewhere with -o";
  }
}

/** The reason a file system call failed, in words a person reads. */
export function fileErrorReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENAMETOOLONG":
      return "the file name is too long for this file system";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "the disk quota is exhausted";
    case "EFBIG":
      return "the file is larger than this process may write (file size limit)";
    case "EROFS":
      return "the file system is read-only";
    case "ENOTDIR":
      return "a part of the path is not a folder";
    case "EIO":
      return "input/output error";
    default:
      return e instanceof Error ? e.message : String(error);
  }
}
