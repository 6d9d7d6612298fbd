/** The server as time-stamping authority (ENVELOPE.md G9): a token for each stored signature, and the upgrade's pass over older images. */
import { signatureValueOf } from "../crypto/index.ts";
import type { TimeStampAuthority } from "../pki/index.ts";
import type { Logger } from "./logger.ts";
import type { CertStore, ImageStore } from "./ports.ts";

export type Stamper = Pick<TimeStampAuthority, "stampSignature">;

/** How many unstamped rows the upgrade reads at a time. */
const PAGE = 100;

/**
 * The token on `signature`'s value, or null when there can be none: a signature that does not
 * parse (every receiver refuses it, V2) or a TSA that failed (logged; the start-up pass stamps the
 * image later, while its signer's certificate is still valid).
 */
export async function stampSignature(tsa: Stamper, signature: Uint8Array, log: Logger, id: string): Promise<Uint8Array | null> {
  let value: Uint8Array;
  try {
    value = signatureValueOf(signature);
  } catch (error) {
    log.warn("image signature does not parse; stored without a time-stamp", { id, error: String(error) });
    return null;
  }
  try {
    return (await tsa.stampSignature(value)).der;
  } catch (error) {
    log.error("cannot time-stamp image signature", { id, error: String(error) });
    return null;
  }
}

export interface UpgradeStamps {
  stamped: number;
  /** Unstamped images whose signer's certificate is expired, revoked or unknown: they stay unstamped. */
  skipped: number;
}

/**
 * Stamps the images stored before the server had a TSA (or whose stamping failed), but only those
 * whose signer's certificate is valid now and not revoked: a token vouches that the signature
 * existed at genTime, and a receiver then judges the certificate at that time (V12), so stamping
 * a signature of an expired or revoked certificate would revive what it no longer vouches for.
 */
export async function stampStoredImages(store: Pick<ImageStore, "listUnstampedImages" | "setTimestampToken"> & Pick<CertStore, "findCert">, tsa: Stamper, log: Logger, now = Date.now()): Promise<UpgradeStamps> {
  const result: UpgradeStamps = { stamped: 0, skipped: 0 };
  for (let after = 0; ; ) {
    const page = await store.listUnstampedImages(after, PAGE);
    if (page.length === 0) break;
    for (const image of page) {
      after = image.seq;
      const cert = await store.findCert(image.signerSerial);
      const valid = cert !== null && cert.revokedAt === null && cert.notBefore <= now && now <= cert.notAfter;
      const token = valid ? await stampSignature(tsa, image.signature, log, image.id) : null;
      if (token !== null && (await store.setTimestampToken(image.id, token))) result.stamped++;
      else result.skipped++;
    }
  }
  if (result.stamped + result.skipped > 0) log.info("time-stamped images stored before the server had a TSA", { ...result });
  return result;
}
