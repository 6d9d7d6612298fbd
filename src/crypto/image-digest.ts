/** Incremental SHA-256 of a plaintext image (ENVELOPE.md G2): the input to signing and verifying. */
import { createHash } from "node:crypto";

export const IMAGE_DIGEST_SIZE = 32;

export interface ImageDigest {
  update(chunk: Uint8Array): void;
  /** The 32-byte digest; call once, after the last update. */
  digest(): Uint8Array;
}

export function createImageDigest(): ImageDigest {
  const hash = createHash("sha256");
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return new Uint8Array(hash.digest());
    },
  };
}
