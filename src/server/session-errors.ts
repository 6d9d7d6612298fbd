/** The ERROR a session sends for a failure (PROTOCOL.md section 5), and the one every session hears when the server stops. */
import { ProtocolError, type ServerMessage } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";

/**
 * The failure as a ProtocolError and its ERROR message: a ProtocolError as it is, anything
 * else logged (with the session's address) and answered as INTERNAL. `uploadIds` tells
 * whether the connection has them (version 2, P30): a version-1 client never sees the field.
 */
export function errorReply(ctx: ServerContext, address: string, error: unknown, uploadIds: boolean): { error: ProtocolError; message: ServerMessage } {
  let pe: ProtocolError;
  if (error instanceof ProtocolError) pe = error;
  else {
    ctx.log.error("internal error", { address, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    pe = new ProtocolError("INTERNAL", "the server hit an internal error; try again later");
  }
  return {
    error: pe,
    message: {
      type: "ERROR", code: pe.code, message: pe.message.slice(0, 512),
      ...(pe.retryAfter !== undefined ? { retryAfter: pe.retryAfter } : {}),
      ...(pe.versions ? { versions: [...pe.versions] } : {}),
      ...(pe.upload !== undefined && uploadIds ? { upload: pe.upload } : {}),
    },
  };
}

/** What every session hears when the server stops (O1); clients reconnect later (O3). */
export function shuttingDown(): ProtocolError {
  return new ProtocolError("SHUTTING_DOWN", "the server is shutting down or restarting; reconnect in a moment (a request it did not answer was not done)");
}
