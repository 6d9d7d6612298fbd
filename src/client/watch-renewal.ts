/** The watch's own certificate renewal (RN6): due at two thirds of the lifetime, done over the watch's connection. */
import type { Connection } from "./connection.ts";
import { TrustError } from "./errors.ts";
import { renewalDue, renewOver } from "./renew.ts";
import type { WatchOptions } from "./watch-options.ts";

/** After a renewal that failed, the next attempt waits this long (RN6). */
const RENEW_RETRY_MS = 60 * 60 * 1000;

/** The watch's own renewal schedule (RN6): checked at each connection and at each idle PING. */
export interface RenewalState {
  retryAt: number;
  /** Renewed, yet due again by this computer's clock: the clock is off; no more attempts. */
  stopped: boolean;
}

/**
 * RN6: once two thirds of the certificate's lifetime have passed, RENEW on this connection and
 * use the new credentials from the next connection on. A failure that leaves the connection up
 * is said and retried an hour later; a refusal that closes it (CERT_REVOKED) ends the watch.
 */
export async function renewIfDue(conn: Connection, opts: WatchOptions, renewal: RenewalState): Promise<void> {
  const now = Date.now();
  if (renewal.stopped || now < renewal.retryAt || !renewalDue(opts.creds.certDer, now)) return;
  renewal.retryAt = now + RENEW_RETRY_MS;
  try {
    const result = await renewOver(conn, opts.home, opts.creds);
    opts.creds = result.creds;
    const p = result.creds.profile;
    opts.log(`renewed the certificate: serial ${p.serial}, valid until ${new Date(p.notAfter).toISOString()} (serial ${result.previousSerial} stays valid until it expires)`);
    if (renewalDue(result.creds.certDer)) {
      renewal.stopped = true;
      opts.log("the renewed certificate is already due for renewal by this computer's clock: check the clock; no more automatic renewals in this watch");
    }
  } catch (error) {
    if (conn.closed || error instanceof TrustError) throw error;
    opts.log(`cannot renew the certificate now: ${(error as Error).message}; trying again in an hour (or run 'sis renew')`);
  }
}
