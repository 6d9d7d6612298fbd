/** RN8, RN9: the running server renews its TLS certificate before it ends, and warns when the CA nears its end. */
import { certInfo, fromPem, type CaFiles, type CertificateAuthority } from "../pki/index.ts";
import { renewTlsFiles, tlsRenewalDue } from "./data-dir.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

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
  let running: Promise<void> | null = null;
  let caWarnedAt = -Infinity;
  let stopped = false;
  const caNotAfter = certInfo(opts.ca.certDer).notAfter;

  async function once(now: number): Promise<void> {
    if (caNotAfter - now < CA_WARN_BEFORE_MS && now - caWarnedAt >= DAY_MS) {
      caWarnedAt = now;
      const days = Math.floor((caNotAfter - now) / DAY_MS);
      opts.log.warn("the CA certificate ends within a year: certificates it issued stop verifying then; plan the CA rollover (docs/SECURITY.md)", { notAfter: new Date(caNotAfter).toISOString(), daysLeft: days });
    }
    if (!tlsRenewalDue(certPem, now)) return;
    try {
      const files = await renewTlsFiles(opts.dataDir, opts.ca, opts.hosts, opts.lifetimeDays);
      if (stopped) return;
      opts.replace(files);
      certPem = files.certPem;
      opts.metrics.tlsRenewals++;
      const info = certInfo(fromPem(files.certPem, "CERTIFICATE"));
      opts.log.info("TLS certificate renewed; new connections get it, open ones keep theirs", { serial: info.serial, notAfter: new Date(info.notAfter).toISOString() });
    } catch (error) {
      opts.log.error("cannot renew the TLS certificate; trying again at the next check", { error: String(error) });
    }
  }

  const check = (now = Date.now()): Promise<void> => {
    running ??= once(now).finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void check(), opts.checkMs);
  timer.unref();
  return {
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
