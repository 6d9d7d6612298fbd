/**
 * The current CRL, one for every node (issue 16): signed under the store's lock and stored with
 * its number and the revocation version it covers (ports.ts ST9); a node serves the stored bytes
 * and signs a new one only when the stored one is older than the revocation version or due for
 * its refresh. Every node therefore serves byte-identical /crl.pem.
 */
import type { CertificateAuthority } from "../pki/index.ts";
import type { CertStore, CrlStore, StoredCrl } from "./ports.ts";

/** A CRL says when the next one is due; clients refuse stale ones. */
const NEXT_UPDATE_SECONDS = 7 * 24 * 3600;
/** Re-sign well before nextUpdate even when nothing was revoked. */
export const REFRESH_AFTER_MS = 24 * 3600 * 1000;

type Certs = Pick<CertStore, "revocationVersion" | "listRevoked"> & Pick<CrlStore, "storedCrl" | "replaceCrl">;

/**
 * The next CRL number: one above the stored one, and never below the Unix seconds of the signing,
 * which is what builds before the stored number used; a client that saw one of those numbers
 * never sees a smaller one (RFC 5280 5.2.3: the number only grows).
 */
export function nextCrlNumber(stored: StoredCrl | null, now: number): number {
  return Math.max((stored?.number ?? 0) + 1, Math.floor(now / 1000));
}

export class CrlCache {
  /** The stored CRL as last read: its bytes are served while it covers the version and is fresh. */
  private cached: StoredCrl | null = null;
  private pending: { version: number; crl: Promise<StoredCrl> } | null = null;

  constructor(
    private readonly ca: Pick<CertificateAuthority, "createCrl">,
    private readonly certs: Certs,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh(crl: StoredCrl | null, version: number): crl is StoredCrl {
    return crl !== null && crl.revocationVersion >= version && this.now() - crl.signedAt < REFRESH_AFTER_MS;
  }

  /**
   * A CRL that lists at least every revocation committed before the call
   * (ports.ts ST3). Callers that ask for the same version while it is being
   * fetched or signed share one; a signing begun for an older version is not
   * joined, since it may have read the revocations before the newest one.
   */
  async current(): Promise<Uint8Array> {
    const version = await this.certs.revocationVersion();
    if (this.fresh(this.cached, version)) return this.cached.der;
    if (this.pending?.version !== version) {
      const pending = { version, crl: this.fetch(version) };
      this.pending = pending;
      void pending.crl.finally(() => {
        if (this.pending === pending) this.pending = null;
      }).catch(() => {});
    }
    return (await this.pending.crl).der;
  }

  /** The stored CRL if it will do (another node may have signed it), else one signed under the lock. */
  private async fetch(version: number): Promise<StoredCrl> {
    let crl = await this.certs.storedCrl();
    if (!this.fresh(crl, version)) crl = await this.certs.replaceCrl((stored) => (this.fresh(stored, version) ? Promise.resolve(null) : this.sign(stored)));
    this.keep(crl);
    return crl;
  }

  private async sign(stored: StoredCrl | null): Promise<StoredCrl> {
    // The version is read before the revocations (ST3): the CRL lists at least what that version holds.
    const revocationVersion = await this.certs.revocationVersion();
    const revoked = await this.certs.listRevoked();
    const signedAt = this.now();
    const number = nextCrlNumber(stored, signedAt);
    const der = await this.ca.createCrl({ revoked, crlNumber: number, nextUpdateSeconds: NEXT_UPDATE_SECONDS });
    return { number, revocationVersion, signedAt, der };
  }

  /** The number only grows: a slower fetch of an older CRL does not replace a newer one. */
  private keep(crl: StoredCrl): void {
    if (this.cached === null || this.cached.number < crl.number) this.cached = crl;
  }
}
