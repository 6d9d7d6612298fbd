/** The gallery's per-run secret (GA1): 256 random bits, given in the printed URL, then kept in a cookie; compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 32 random bytes, base64url: 43 characters, safe in a URL and a cookie. */
export function newGalleryToken(): string {
  return randomBytes(32).toString("base64url");
}

/** The shortest token createGalleryApp accepts (a guessable one would defeat GA1). */
export const MIN_TOKEN_LENGTH = 43;

/**
 * Cookies are not isolated by port, so each gallery's cookie is named after its port:
 * two galleries open at once do not overwrite each other's.
 */
export function tokenCookieName(url: URL): string {
  return `sis-gallery-${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** Equal lengths by hashing first, then a constant-time comparison: no timing tells how much matched. */
export function sameToken(given: string | undefined | null, token: string): boolean {
  if (typeof given !== "string" || given.length === 0 || given.length > 1024) return false;
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(given), digest(token));
}
