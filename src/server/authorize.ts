/** The identity checks of requests (P4, P5a): who is asking, and whether their certificate still holds. */
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { identify, type Identity } from "./identify.ts";
import type { Peer } from "./peer.ts";
import { REVOKED_WHILE_CONNECTED, refusalMessage } from "./refusals.ts";

export function requireIdentity(peer: Pick<Peer, "identity">): Identity {
  if (!peer.identity) throw new ProtocolError("AUTH_REQUIRED", "this request needs a registered certificate: run 'sis register' first");
  return peer.identity;
}

/**
 * The identity asked of the store again, for requests that release a key
 * (P5a): a certificate revoked or expired since HELLO gets nothing more.
 */
export async function requireCurrentIdentity(ctx: Pick<ServerContext, "store" | "refusalLog">, peer: Pick<Peer, "identity">): Promise<Identity> {
  const identity = requireIdentity(peer);
  const result = await identify(ctx.store, identity.certDer);
  if ("refused" in result) {
    ctx.refusalLog.warn("certificate refused on request", { user: identity.username, serial: identity.serial, code: result.refused });
    throw new ProtocolError(result.refused, result.refused === "CERT_REVOKED" ? REVOKED_WHILE_CONNECTED : refusalMessage(result.refused));
  }
  return identity;
}
