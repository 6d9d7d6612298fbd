/** Request dispatch after HELLO: one handler per client message type, as a table (PROTOCOL.md section 4). */
import { MAX_INCOMING, ProtocolError, type ClientMessage, type ClientMessageOf } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import { startUpload } from "./handle-post.ts";
import { handlePostSignature, startPipelinedUpload } from "./handle-post-v2.ts";
import { handleDownload, handleGetCrl, handleList } from "./handle-read.ts";
import { handleRegister } from "./handle-register.ts";
import { handleRenew } from "./handle-renew.ts";
import { handlePasswd } from "./handle-passwd.ts";
import type { Peer } from "./peer.ts";
import { handleDeleteImage } from "./handle-delete.ts";
import { handleCreateLink, handleGetUsage, handleLinkDevice, handleListDevices, handleRemoveDevice } from "./handle-devices.ts";

export type Handler<T extends ClientMessage["type"]> = (ctx: ServerContext, peer: Peer, message: ClientMessageOf<T>) => void | Promise<void>;

/** Every message type has an entry: a new one in the protocol does not compile until it is handled here. */
export const HANDLERS: { readonly [T in ClientMessage["type"]]: Handler<T> } = {
  // HELLO itself is the session's (it changes the session's state); a second one is an error.
  HELLO: () => {
    throw new ProtocolError("BAD_MESSAGE", "HELLO was already sent on this connection");
  },
  PING: (_ctx, peer) => peer.send({ type: "PONG" }),
  REGISTER: handleRegister,
  RENEW: handleRenew,
  GET_CRL: handleGetCrl,
  // Version 1's form carries the signature, version 2's an upload id (P30); the agreed version's schema admits one of them.
  POST_IMAGE: (ctx, peer, message) => ("upload" in message ? startPipelinedUpload(ctx, peer, message) : startUpload(ctx, peer, message)),
  POST_SIGNATURE: handlePostSignature,
  DOWNLOAD: handleDownload,
  LIST: handleList,
  // Devices, usage, deletion (PROTOCOL.md M20–M29).
  CREATE_LINK: handleCreateLink,
  LINK_DEVICE: handleLinkDevice,
  LIST_DEVICES: handleListDevices,
  REMOVE_DEVICE: handleRemoveDevice,
  GET_USAGE: handleGetUsage,
  DELETE_IMAGE: handleDeleteImage,
  PASSWD: handlePasswd,
  // Version 3 (P40): the version's schema admits the message only on a version-3 connection.
  WATCH_INCOMING: (_ctx, peer) => {
    if (!peer.identity) throw new ProtocolError("AUTH_REQUIRED", "WATCH_INCOMING needs a registered certificate: run 'sis register' first");
    if (!peer.watchIncoming) throw new ProtocolError("INTERNAL", "this connection cannot take cut-through deliveries");
    peer.watchIncoming();
    peer.send({ type: "INCOMING_ON", maxIncoming: MAX_INCOMING });
  },
};

export function dispatch(ctx: ServerContext, peer: Peer, message: ClientMessage): void | Promise<void> {
  const handler = HANDLERS[message.type] as Handler<ClientMessage["type"]>;
  return handler(ctx, peer, message);
}
