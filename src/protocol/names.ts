/** Username, password and image-name rules (P13, P20): one definition for server and client. */
import { IMAGE_NAME_MAX_BYTES, PASSWORD_MAX, PASSWORD_MIN, USERNAME_PATTERN } from "./limits.ts";

export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

/**
 * The form of a password that argon2id hashes (P13): Unicode NFC, so that the
 * same password typed on any platform (macOS input methods produce NFD, others
 * NFC) gives the same bytes. The hash input is the UTF-8 of this string.
 */
export function normalizePassword(password: string): string {
  return password.normalize("NFC");
}

/** Why a password is refused (P13), or null. Lengths are code points of the NFC form. */
export function passwordProblem(password: string): string | null {
  if (!password.isWellFormed()) return "a password must be well-formed Unicode";
  const length = [...normalizePassword(password)].length;
  if (length < PASSWORD_MIN) return `a password needs at least ${PASSWORD_MIN} characters`;
  if (length > PASSWORD_MAX) return `a password has at most ${PASSWORD_MAX} characters`;
  return null;
}

// P20, exactly: general categories Cc (C0, DEL, C1), Cf (format: bidirectional
// controls, zero-width space, word joiner, soft hyphen, BOM…) except U+200D ZERO
// WIDTH JOINER (emoji sequences need it), Zl, Zp, Co (private use), Cn
// (unassigned and noncharacters), and both path separators.
const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\p{Co}\p{Cn}\/\\]|(?!\u200d)\p{Cf}/u;
const EDGE_SPACE = /^\p{White_Space}|\p{White_Space}$/u;

/**
 * Why an image name is refused, or null if it is acceptable (P20). The name never
 * reaches a server path (blobs are named by id), but the client uses it as a
 * file name under its output directory, so it must be one plain path segment
 * that leaves room for NAME.p7s within a file system's 255-byte name limit.
 */
export function imageNameProblem(name: string): string | null {
  if (name.length === 0) return "an image name cannot be empty";
  if (!name.isWellFormed()) return "an image name must be well-formed Unicode";
  if (Buffer.byteLength(name, "utf8") > IMAGE_NAME_MAX_BYTES) return `an image name has at most ${IMAGE_NAME_MAX_BYTES} bytes`;
  if (name.normalize("NFC") !== name) return "an image name must be in Unicode NFC form";
  if (FORBIDDEN.test(name)) return "an image name cannot contain /, \\, control, format, private-use or unassigned characters";
  if (name.startsWith(".")) return "an image name cannot start with a dot";
  if (EDGE_SPACE.test(name)) return "an image name cannot start or end with white space";
  return null;
}
