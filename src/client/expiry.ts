/** When the user's certificate is due for renewal and when to warn (RN6); no X.509 parsing, so every command can load it. */
import type { Profile } from "./home.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** `sis watch` renews once this much of the certificate's lifetime has passed (as `step ca renew --daemon`). */
export const RENEW_AT_FRACTION = 2 / 3;
/** Every command warns on stderr when the certificate ends within this long. */
export const WARN_BEFORE_MS = 30 * DAY_MS;

/** The instant two thirds of a lifetime have passed. */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notBefore + (notAfter - notBefore) * RENEW_AT_FRACTION;
}

/** The warning line for a certificate that ends within 30 days, or null; an expired one is refused elsewhere (RN7). */
export function expiryWarning(profile: Pick<Profile, "notAfter">, now = Date.now()): string | null {
  const left = profile.notAfter - now;
  if (left <= 0 || left > WARN_BEFORE_MS) return null;
  const days = Math.ceil(left / DAY_MS);
  return `sis: warning: your certificate expires on ${new Date(profile.notAfter).toISOString()} (in ${days} day${days === 1 ? "" : "s"}); run 'sis renew'\n`;
}
