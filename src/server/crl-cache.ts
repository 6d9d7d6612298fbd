/** The current CRL: re-signed only when the store's revocation version changes. */
import type { CertificateAuthority } from "../pki/index.ts";
import type { CertStore } from "./ports.ts";

/** A CRL says when the next one is due; clients refuse stale ones. */
const NEXT_UPDATE_SECONDS = 7 * 24 * 3600;
/** Re-sign well before nextUpdate even when nothing was revoked. */
const REFRESH_AFTER_MS = 24 * 3600 * 1000;

export class CrlCache {
  private cached: { version: number; der: Uint8Array; at: number } | null = null;
  private pending: { version: number; der: Promise<Uint8Array> } | null = null;

  constructor(
    private readonly ca: Pick<CertificateAuthority, "createCrl">,
    private readonly certs: Pick<CertStore, "revocationVersion" | "listRevoked">,
  ) {}

  /**
   * A CRL that lists at least every revocation committed before the call
   * (ports.ts ST3). Callers that ask for the same version while it is being
   * signed share one signing; a signing begun for an older version is not
   * joined, since it may have read the revocations before the newest one.
   */
  async current(): Promise<Uint8Array> {
    const version = await this.certs.revocationVersion();
    const c = this.cached;
    if (c && c.version === version && Date.now() - c.at < REFRESH_AFTER_MS) return c.der;
    if (this.pending?.version !== version) {
      const pending = { version, der: this.sign(version) };
      this.pending = pending;
      void pending.der.finally(() => {
        if (this.pending === pending) this.pending = null;
      }).catch(() => {});
    }
    return this.pending.der;
  }

  private async sign(version: number): Promise<Uint8Array> {
    const der = await this.ca.createCrl({
      revoked: await this.certs.listRevoked(),
      crlNumber: Math.max(1, Math.floor(Date.now() / 1000)),
      nextUpdateSeconds: NEXT_UPDATE_SECONDS,
    });
    // The version only grows (ST3): a slower signing of an older version must not replace a newer CRL.
    if (!this.cached || this.cached.version <= version) this.cached = { version, der, at: Date.now() };
    return der;
  }
}
