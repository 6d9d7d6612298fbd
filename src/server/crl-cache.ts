/** The current CRL: re-signed only when the store's revocation version changes. */
import type { CertificateAuthority } from "../pki/index.ts";
import type { CertStore } from "./ports.ts";

/** A CRL says when the next one is due; clients refuse stale ones. */
const NEXT_UPDATE_SECONDS = 7 * 24 * 3600;
/** Re-sign well before nextUpdate even when nothing was revoked. */
const REFRESH_AFTER_MS = 24 * 3600 * 1000;

export class CrlCache {
  private cached: { version: number; der: Uint8Array; at: number } | null = null;
  private pending: Promise<Uint8Array> | null = null;

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly certs: CertStore,
  ) {}

  async current(): Promise<Uint8Array> {
    const version = this.certs.revocationVersion();
    const c = this.cached;
    if (c && c.version === version && Date.now() - c.at < REFRESH_AFTER_MS) return c.der;
    this.pending ??= this.sign(version).finally(() => (this.pending = null));
    return this.pending;
  }

  private async sign(version: number): Promise<Uint8Array> {
    const der = await this.ca.createCrl({
      revoked: this.certs.listRevoked(),
      crlNumber: Math.max(1, Math.floor(Date.now() / 1000)),
      nextUpdateSeconds: NEXT_UPDATE_SECONDS,
    });
    this.cached = { version, der, at: Date.now() };
    return der;
  }
}
