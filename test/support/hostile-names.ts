/** Hostile usernames and image names every one of which the server refuses (P19, P20): for test/security and bench/fuzz-connections.ts. */

/** Each is BAD_USERNAME: separators, NUL, case, look-alikes, invisible and direction marks, lengths, white space. */
export const HOSTILE_USERNAMES: readonly string[] = [
  "../etc", "carol/evil", "carol\\evil", "carol\u0000", "Carol", "\u0441arol" /* Cyrillic es */, "\uff43arol" /* fullwidth */,
  "carol\u200b", "\u202ecarol", "c", "x".repeat(33), "1carol", " carol", "carol\n", "", "-carol",
];

/** Image names with path separators: each is BAD_NAME. */
export const PATH_NAMES: readonly string[] = ["../../etc/passwd", "a/b.png", "a\\b.png", "/abs.png", "C:\\x.png"];

/** Image names with Unicode tricks: each is BAD_NAME. */
export const UNICODE_TRICK_NAMES: readonly string[] = [
  "cat\u202egnp.exe", // right-to-left override: shows as cat.exe reversed
  "ca\u200bt.png", // zero-width space
  "\ufeffcat.png", // byte-order mark
  "cafe\u0301.png", // not NFC
  "cat\ud800.png", // lone surrogate
  "cat\u0085.png", // C1 control
  "cat\u2028.png", // line separator
  "cat\u2066.png", // left-to-right isolate
  " cat.png", // leading white space
  "cat.png ", // trailing white space
];

/** An image name with NUL: BAD_NAME. */
export const NUL_NAME = "cat.png\u0000.exe";

/** 256 bytes of UTF-8 (128 two-byte characters): one byte over P20's limit, BAD_NAME. */
export const LONG_NAME = "\u00e9".repeat(128);

/** Dot names and the empty name: each is BAD_NAME. */
export const DOT_NAMES: readonly string[] = [".", "..", ".htaccess", ""];

/** Every hostile image name above: each is BAD_NAME whatever else the POST_IMAGE says. */
export const HOSTILE_IMAGE_NAMES: readonly string[] = [...PATH_NAMES, ...UNICODE_TRICK_NAMES, ...DOT_NAMES, NUL_NAME, LONG_NAME];
