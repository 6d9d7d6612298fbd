/** Byte helpers: WebCrypto-typed views and a constant-time comparison. */
import { timingSafeEqual } from "node:crypto";

/** The same bytes typed as WebCrypto's BufferSource (copied only if backed by a SharedArrayBuffer). */
export function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/** Constant-time equality for secret-dependent comparisons; lengths are public. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
