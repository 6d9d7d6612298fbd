/** Strict checks and codecs for the owner, name and content-type strings (ENVELOPE.md H5, H6). */

// fatal: reject malformed UTF-8 instead of substituting U+FFFD; ignoreBOM: keep a leading
// U+FEFF as a character. Without ignoreBOM, "\uFEFFalice" would decode to "alice" and the
// header would have two encodings (H8).
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

// C0 controls and DEL: LF in particular is the binding-string separator (G6).
const CONTROL = /[\u0000-\u001f\u007f]/;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

export const OWNER_MAX_BYTES = 64;
export const NAME_MAX_BYTES = 255;
export const CONTENT_TYPE_MAX_BYTES = 64;

/** Decodes UTF-8 strictly, or returns null. */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** UTF-8 bytes of a string, or null if it holds lone surrogates (not well-formed). */
export function encodeUtf8Strict(text: string): Uint8Array | null {
  if (!text.isWellFormed()) return null;
  return utf8.encode(text);
}

/** Why a UTF-8 text field (owner or name) is refused, or null. */
export function utf8FieldProblem(label: string, text: string, bytes: Uint8Array, max: number): string | null {
  if (bytes.length === 0) return `${label} is empty`;
  if (bytes.length > max) return `${label} is longer than ${max} bytes`;
  if (CONTROL.test(text)) return `${label} contains a control character`;
  return null;
}

/** Why a content type is refused, or null. */
export function contentTypeProblem(contentType: string): string | null {
  if (contentType.length === 0) return "content type is empty";
  if (!PRINTABLE_ASCII.test(contentType)) return "content type is not printable ASCII";
  if (contentType.length > CONTENT_TYPE_MAX_BYTES) return `content type is longer than ${CONTENT_TYPE_MAX_BYTES} bytes`;
  return null;
}

/** Why an (owner, name, contentType) triple is refused, or null. Shared by the header and the signature binding. */
export function fieldsProblem(owner: string, name: string, contentType: string): string | null {
  const ownerBytes = encodeUtf8Strict(owner);
  if (ownerBytes === null) return "owner is not well-formed Unicode";
  const nameBytes = encodeUtf8Strict(name);
  if (nameBytes === null) return "name is not well-formed Unicode";
  return (
    utf8FieldProblem("owner", owner, ownerBytes, OWNER_MAX_BYTES) ??
    utf8FieldProblem("name", name, nameBytes, NAME_MAX_BYTES) ??
    contentTypeProblem(contentType)
  );
}
