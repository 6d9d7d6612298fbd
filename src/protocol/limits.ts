/** Protocol limits (PROTOCOL.md section 7): every one a named constant; the server's policy defaults live in src/app/options.ts. */

export const PROTOCOL_NAME = "sis";
/** HELLO.version: every client opens with it (P10); later versions are offered in HELLO.versions (P10a). */
export const PROTOCOL_VERSION = 1;
/** The values HELLO.version may take; UNSUPPORTED_VERSION lists them (P10). */
export const SUPPORTED_VERSIONS: readonly number[] = [1];
/** The protocol versions this build speaks, negotiated through HELLO.versions (P10a): the highest common one is used. */
export const PROTOCOL_VERSIONS: readonly number[] = [1, 2, 3, 4, 5];
/** Version 2: pipelined posting, the signature after the data (P30–P37). */
export const PIPELINED_VERSION = 2;
/** Version 3: cut-through delivery, an upload's ciphertext pushed to watchers while it arrives (P40–P49). */
export const CUT_THROUGH_VERSION = 3;
/** Version 4: DOWNLOAD `from` a ciphertext offset, so a delivery dropped BEHIND is resumed, not fetched again (P23a, P45). */
export const RANGED_DOWNLOAD_VERSION = 4;
/** Version 5: HELLO carries a P-256 storage certificate, and image keys are wrapped for it by key agreement (P11a, ENVELOPE.md W6). */
export const STORAGE_ECDH_VERSION = 5;
/** P44: deliveries one watching connection may have between INCOMING and DELIVERED or DROPPED. */
export const MAX_INCOMING = 4;
/** P41: the largest delivery number (a PUSH_DATA frame carries it as u32). */
export const MAX_DELIVERY_ID = 2 ** 32 - 1;
/** P31: uploads one connection may have between POST_IMAGE and its POSTED or ERROR (version 2). */
export const MAX_UPLOADS_IN_FLIGHT = 4;
/** P30: the largest upload id a client may choose. */
export const MAX_UPLOAD_ID = 2 ** 31 - 1;

/** P1: the TCP port of the protocol when an address names none (clients) and `sis serve` is given none. */
export const DEFAULT_PORT = 1233;

export const FRAME_HEADER_SIZE = 5;
export const MAX_CONTROL_FRAME = 65_536;
export const MAX_DATA_FRAME = 262_144;
export const MAX_JSON_DEPTH = 8;

/** A client sends PING after this long without traffic; the server's idle deadline must stay above it (src/app/options.ts). */
export const PING_INTERVAL_MS = 30_000;
export const MAX_UPLOADS_PER_USER = 4;
export const LIST_PAGE_MAX = 100;
export const LIST_PAGE_DEFAULT = 50;

export const USERNAME_PATTERN = /^[a-z][a-z0-9_-]{1,31}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;
/** Leaves room for NAME.p7s (4 more bytes) within the 255-byte file-name limit of common file systems, with 11 to spare (P20). */
/** ENVELOPE.md V1, the one bound of an image signature (src/crypto's MAX_SIGNATURE_SIZE; a test keeps them equal). */
export const MAX_SIGNATURE_SIZE = 16_384;
/** T2: the bound of a time-stamp token (ENVELOPE.md V11, src/pki's MAX_TIMESTAMP_TOKEN_SIZE; a test keeps them equal). */
export const MAX_TIMESTAMP_TOKEN_SIZE = 8_192;
/** Characters of standard padded base64 for `bytes` bytes. */
export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}
export const IMAGE_NAME_MAX_BYTES = 240;
export const CONTENT_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif"] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];
