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

export class RevocationWatch {
  /** The version seen last; read once at construction, before any check compares against it. */
  private version: Promise<number>;
  private running: Promise<number> | null = null;

  constructor(
    private readonly ctx: Pick<ServerContext, "store" | "log" | "refusalLog">,
    private readonly sessions: () => Iterable<WatchedSession>,
  ) {
    // Unreadable at start: -1 makes the first check go over every session, the safe side.
    this.version = ctx.store.revocationVersion().catch(() => -1);
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
    this.ctx.log.warn("revocations recorded; open sessions checked", { revocationVersion: version, sessionsEnded: ended });
    return ended;
  }
}
