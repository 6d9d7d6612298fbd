/** Ends open sessions whose certificate was revoked or whose account was disabled, also by `sis admin` in another process (P5a, M10). */
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { identify, type Identity } from "./identify.ts";
import { ACCOUNT_DISABLED_MESSAGE, REVOKED_WHILE_CONNECTED } from "./refusals.ts";

/** What the watch needs of an open session. */
export interface WatchedSession {
  readonly identity: Identity | null;
  readonly closed: boolean;
  readonly address: string;
  fail(error: unknown): void;
}

/** At most this many revoked certificates are named one line each per check; more are counted in the summary line. */
export const MAX_NAMED_REVOCATIONS = 20;

export class RevocationWatch {
  /** The version seen last; read once at construction, before any check compares against it. */
  private version: Promise<number>;
  /** Serials known revoked (null: unreadable at start, so none is named until a check reads them). */
  private revoked: Promise<Set<string> | null>;
  private running: Promise<number> | null = null;

  constructor(
    private readonly ctx: Pick<ServerContext, "store" | "log" | "refusalLog">,
    private readonly sessions: () => Iterable<WatchedSession>,
  ) {
    // Unreadable at start: -1 makes the first check go over every session, the safe side.
    this.version = ctx.store.revocationVersion().catch(() => -1);
    this.revoked = this.revokedSerials().catch(() => null);
  }

  private async revokedSerials(): Promise<Set<string>> {
    return new Set((await this.ctx.store.listRevoked()).map((r) => r.serial));
  }

  /**
   * Names the certificates revoked since the last check (serial, user, reason), so the server's
   * log says what `sis admin revoke` did in another process; returns how many were new.
   */
  private async logNewRevocations(): Promise<number> {
    const before = await this.revoked;
    const now = await this.ctx.store.listRevoked();
    this.revoked = Promise.resolve(new Set(now.map((r) => r.serial)));
    if (before === null) return 0;
    const fresh = now.filter((r) => !before.has(r.serial));
    for (const r of fresh.slice(0, MAX_NAMED_REVOCATIONS)) {
      const cert = await this.ctx.store.findCert(r.serial);
      this.ctx.log.warn("certificate revoked", { serial: r.serial, user: cert?.username ?? null, reason: r.reason ?? "unspecified", revokedAt: new Date(r.revokedAt).toISOString() });
    }
    return fresh.length;
  }

  /**
   * Cheap when nothing changed: one read of the version counter, which every
   * revocation bumps in the same transaction (ports.ts ST3). When it moved,
   * every open authenticated session is identified again against the store;
   * the revoked ones get a fatal CERT_REVOKED and are closed. Resolves to how
   * many were ended. A check asked for while one runs joins it: a timer tick
   * never starts a second pass over the sessions.
   */
  check(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<number> {
    const seen = await this.version;
    const version = await this.ctx.store.revocationVersion();
    if (version === seen) return 0;
    this.version = Promise.resolve(version);
    const newlyRevoked = await this.logNewRevocations().catch((error: unknown) => {
      this.ctx.log.error("cannot list revocations for the log", { error: String(error) });
      return 0;
    });
    let ended = 0;
    for (const session of [...this.sessions()]) {
      const identity = session.identity;
      if (session.closed || !identity) continue;
      const result = await identify(this.ctx.store, identity.certDer);
      if (session.closed) continue;
      if ("refused" in result && result.refused === "CERT_REVOKED") {
        session.fail(new ProtocolError("CERT_REVOKED", REVOKED_WHILE_CONNECTED));
        this.ctx.refusalLog.warn("revoked certificate: session ended", { user: identity.username, serial: identity.serial, address: session.address });
        ended++;
      } else if ("refused" in result && result.refused === "ACCOUNT_DISABLED") {
        // Membership (M10): `sis admin disable` bumps the same counter.
        session.fail(new ProtocolError("ACCOUNT_DISABLED", ACCOUNT_DISABLED_MESSAGE));
        this.ctx.refusalLog.warn("disabled account: session ended", { user: identity.username, serial: identity.serial, address: session.address });
        ended++;
      }
    }
    // A disable or enable bumps the same version with no new revocation (newlyRevoked 0).
    this.ctx.log.warn("revocations recorded; open sessions checked", { revocationVersion: version, newlyRevoked, sessionsEnded: ended });
    return ended;
  }
}
