/** RN8, RN9: the running server renews its TLS certificate before it ends, and warns when the CA nears its end. */
import { certInfo, fromPem, type CaFiles, type CertificateAuthority } from "../pki/index.ts";
import { renewTlsFiles, tlsRenewalDue } from "./data-dir.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import { periodicCheck } from "./periodic-check.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** RN9: the log warns (once a day) when the CA certificate ends within this long. */
export const CA_WARN_BEFORE_MS = 365 * DAY_MS;

export interface TlsRenewalOptions {
  dataDir: string;
  ca: CertificateAuthority;
  hosts: string[];
  /** The certificate the server listens with now. */
  certPem: string;
  lifetimeDays: number;
  checkMs: number;
  log: Logger;
  metrics: Metrics;
  /**
   * Cluster mode (docs/SCALING.md): the node never issues a key of its own. It rereads the
   * keys directory instead; a certificate the operator renewed there ('sis admin init-cluster
   * --renew-tls') is taken up at the next check, and a due one is only warned about.
   */
  reload?: () => Promise<CaFiles>;
  /** Makes new connections use the renewed certificate (ProtocolServer.replaceTls). */
  replace(files: CaFiles): void;
}

export interface TlsRenewal {
  /** One check now: renew if due (RN8), warn about the CA (RN9). Never rejects: a failure is logged and retried. */
  check(now?: number): Promise<void>;
  stop(): void;
}

export function startTlsRenewal(opts: TlsRenewalOptions): TlsRenewal {
  let certPem = opts.certPem;
  let caWarnedAt = -Infinity;
  let dueWarnedAt = -Infinity;
  const caNotAfter = certInfo(opts.ca.certDer).notAfter;

  async function once(now: number): Promise<void> {
    if (caNotAfter - now < CA_WARN_BEFORE_MS && now - caWarnedAt >= DAY_MS) {
      caWarnedAt = now;
      const days = Math.floor((caNotAfter - now) / DAY_MS);
      opts.log.warn("the CA certificate ends within a year: certificates it issued stop verifying then; plan the CA rollover (docs/SECURITY.md)", { notAfter: new Date(caNotAfter).toISOString(), daysLeft: days });
    }
    if (opts.reload) return reread(now, opts.reload);
    if (!tlsRenewalDue(certPem, now)) return;
    try {
      const files = await renewTlsFiles(opts.dataDir, opts.ca, opts.hosts, opts.lifetimeDays);
      if (periodic.stopped) return;
      opts.replace(files);
      certPem = files.certPem;
      opts.metrics.tlsRenewals++;
      const info = certInfo(fromPem(files.certPem, "CERTIFICATE"));
      opts.log.info("TLS certificate renewed; new connections get it, open ones keep theirs", { serial: info.serial, notAfter: new Date(info.notAfter).toISOString() });
    } catch (error) {
      opts.log.error("cannot renew the TLS certificate; trying again at the next check", { error: String(error) });
    }
  }

  async function reread(now: number, reload: () => Promise<CaFiles>): Promise<void> {
    try {
      const files = await reload();
      if (files.certPem !== certPem && !periodic.stopped) {
        opts.replace(files);
        certPem = files.certPem;
        opts.metrics.tlsRenewals++;
        const info = certInfo(fromPem(files.certPem, "CERTIFICATE"));
        opts.log.info("TLS certificate of the keys directory taken up; new connections get it, open ones keep theirs", { serial: info.serial, notAfter: new Date(info.notAfter).toISOString() });
      }
    } catch (error) {
      opts.log.error("cannot reread the TLS certificate of the keys directory; the one in use is kept", { error: String(error) });
    }
    if (tlsRenewalDue(certPem, now) && now - dueWarnedAt >= DAY_MS) {
      dueWarnedAt = now;
      const notAfter = new Date(certInfo(fromPem(certPem, "CERTIFICATE")).notAfter).toISOString();
      opts.log.warn("the cluster's TLS certificate is due for renewal; run 'sis admin init-cluster --renew-tls --out DIR' and copy server.pem and server.key to every node's --keys (taken up within --tls-renew-check)", { notAfter });
    }
  }

  const periodic = periodicCheck(once, opts.checkMs);
  return {
    check: periodic.check,
    stop: periodic.stop,
  };
}
