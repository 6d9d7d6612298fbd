/** Domain-separation labels and fixed constants of the envelope and signature profile. */

/** Header magic, ASCII "SISENV" (ENVELOPE.md H1). */
export const ENVELOPE_MAGIC: Uint8Array = new Uint8Array([0x53, 0x49, 0x53, 0x45, 0x4e, 0x56]);

/** Prefix of the contentHint binding string (ENVELOPE.md G6): names this profile and its version. */
export const BINDING_LABEL = "sis-image/1";

/** Separator of the binding string; forbidden inside every field (H5, H6), so the string is unambiguous. */
export const BINDING_SEPARATOR = "\n";
