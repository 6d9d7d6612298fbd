/**
 * T1 while running: a single node's TSA certificate is replaced within 30 days of its end without
 * a restart. A server can run for longer than that, and a token made after its TSA certificate has
 * ended is refused by every receiver (V11), so the image would be judged as of now and lost when
 * its signer's certificate expires: the very loss the time-stamps exist to prevent.
 */
import { certInfo, type CertificateAuthority, type TimeStampAuthority } from "../pki/index.ts";
import { openTsa, tsaRenewalDue } from "./data-dir.ts";
import type { Logger } from "./logger.ts";
import type { Stamper } from "./timestamp.ts";
import { periodicCheck } from "./periodic-check.ts";

export interface RenewingStamper extends Stamper {
  /** The TSA certificate new images are stamped with. */
  readonly certDer: Uint8Array;
  /** One check now: replaces the TSA when due. Never rejects: a failure is logged, the current TSA kept and the check retried. */
  check(now?: number): Promise<void>;
  stop(): void;
}

export interface TsaRenewalOptions {
  dataDir: string;
  ca: CertificateAuthority;
  /** The TSA openDataDir loaded (already renewed at start when it was due). */
  tsa: TimeStampAuthority;
  /** How often to check: sis serve's --tls-renew-check, the same clock as RN8. */
  checkMs: number;
  log: Logger;
}

export function startTsaRenewal(opts: TsaRenewalOptions): RenewingStamper {
  let tsa = opts.tsa;

  async function once(now: number): Promise<void> {
    if (!tsaRenewalDue(tsa.certDer, opts.ca, now)) return;
    try {
      // openTsa issues and writes the new pair (key first, 0600), as at start.
      const next = await openTsa(opts.dataDir, opts.ca, now);
      if (periodic.stopped) return;
      tsa = next;
      const info = certInfo(next.certDer);
      opts.log.info("time-stamping certificate renewed; new images are stamped with it, tokens of the old one stay valid", { serial: info.serial, notAfter: new Date(info.notAfter).toISOString() });
    } catch (error) {
      opts.log.error("cannot renew the time-stamping certificate; the current one is kept, trying again at the next check", { error: String(error) });
    }
  }

  const periodic = periodicCheck(once, opts.checkMs);
  return {
    get certDer() {
      return tsa.certDer;
    },
    stampSignature: (value, stampOpts) => tsa.stampSignature(value, stampOpts),
    check: periodic.check,
    stop: periodic.stop,
  };
}
