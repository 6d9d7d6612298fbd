/** Username and image-name rules (P13, P20): one definition for server and client. */
import { IMAGE_NAME_MAX_BYTES, PASSWORD_MAX, PASSWORD_MIN, USERNAME_PATTERN } from "./limits.ts";

export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN) return `a password needs at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `a password has at most ${PASSWORD_MAX} characters`;
  return null;
}

// Controls (C0, C1, DEL), every bidirectional control (overrides, isolates,
// marks, U+061C), invisible format characters (zero-width space, word joiner,
// soft hyphen, BOM…; U+200D stays, emoji sequences need it), line and
// paragraph separators, and both path separators: none belongs in a name a
// person has to read, and none may turn a name into a path.
const FORBIDDEN = /[\p{Cc}\p{Bidi_Control}\u2028\u2029\/\\]|(?!\u200d)\p{Cf}/u;

/**
 * Why an image name is refused, or null if it is acceptable. The name never
 * reaches a server path (blobs are named by id), but the client uses it as a
 * file name under its output directory, so it must be one plain path segment.
 */
export function imageNameProblem(name: string): string | null {
  if (name.length === 0) return "an image name cannot be empty";
  if (Buffer.byteLength(name, "utf8") > IMAGE_NAME_MAX_BYTES) return `an image name has at most ${IMAGE_NAME_MAX_BYTES} bytes`;
  if (name.normalize("NFC") !== name) return "an image name must be in Unicode NFC form";
  if (!name.isWellFormed()) return "an image name must be well-formed Unicode";
  if (FORBIDDEN.test(name)) return "an image name cannot contain /, \\, NUL, control or bidirectional characters";
  if (name.startsWith(".")) return "an image name cannot start with a dot";
  if (name.trim() !== name) return "an image name cannot start or end with white space";
  return null;
}
