/** Helpers for signature tests: digests of byte arrays and the SignatureError code of a promise. */
import { SignatureError, createImageDigest } from "../../src/crypto/index.ts";

export function digestOf(bytes: Uint8Array): Uint8Array {
  const d = createImageDigest();
  d.update(bytes);
  return d.digest();
}

export async function sigOutcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof SignatureError) return e.code;
    throw e;
  }
}

export const IMAGE = { owner: "alice", name: "sunset.png", contentType: "image/png" } as const;
