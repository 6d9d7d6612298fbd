/** Ends open sessions whose certificate was revoked, also by `sis admin revoke` in another process (P5a). */
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { identify } from "./identify.ts";
import type { Session } from "./session.ts";

export const REVOKED_WHILE_CONNECTED =
  "your certificate was revoked while you were connected; this connection is closed. Enrol a new key with 'sis register'";

export class RevocationWatch {
  private version: number;

  constructor(
    private readonly ctx: ServerContext,
    private readonly sessions: () => Iterable<Session>,
  ) {
    this.version = ctx.store.revocationVersion();
  }

  /**
   * Cheap when nothing changed: one read of the version counter, which every
   * revocation bumps in the same transaction. When it moved, every open
   * authenticated session is identified again against the store; the revoked
   * ones get a fatal CERT_REVOKED and are closed. Returns how many were ended.
   */
  check(): number {
    const version = this.ctx.store.revocationVersion();
    if (version === this.version) return 0;
    this.version = version;
    let ended = 0;
    for (const session of this.sessions()) {
      const identity = session.identity;
      if (session.state === "closed" || !identity) continue;
      const result = identify(this.ctx.store, identity.certDer);
      if ("refused" in result && result.refused === "CERT_REVOKED") {
        session.fail(new ProtocolError("CERT_REVOKED", REVOKED_WHILE_CONNECTED));
        this.ctx.refusalLog.warn("revoked certificate: session ended", { user: identity.username, serial: identity.serial, address: session.address });
        ended++;
      }
    }
    this.ctx.log.warn("revocations recorded; open sessions checked", { revocationVersion: version, sessionsEnded: ended });
    return ended;
  }
}
