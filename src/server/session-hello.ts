/** The HELLO exchange of a session (P10, P10a, P11): the client's HELLO checked, the version agreed, the server's HELLO made. */
import {
  decodeClientMessage, MAX_CONTROL_FRAME, MAX_DATA_FRAME, PROTOCOL_NAME, PROTOCOL_VERSION, ProtocolError, agreedVersion, STORAGE_ECDH_VERSION, SUPPORTED_VERSIONS,
  toBase64, type ClientMessage, type ServerMessage,
} from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { Identity } from "./identify.ts";

/** The version agreed with the client whose first frame is `payload`; throws the refusal when it is no HELLO we speak. */
export function agreeHello(payload: Uint8Array): number {
  let message: ClientMessage;
  try {
    message = decodeClientMessage(payload);
  } catch (error) {
    // A peer that does not speak sis fails here, on its first frame (P10).
    if (error instanceof ProtocolError && error.code === "UNKNOWN_MESSAGE") throw new ProtocolError("HELLO_REQUIRED", "the first message must be HELLO");
    throw error;
  }
  if (message.type !== "HELLO") throw new ProtocolError("HELLO_REQUIRED", "the first message must be HELLO");
  if (!SUPPORTED_VERSIONS.includes(message.version)) {
    throw new ProtocolError("UNSUPPORTED_VERSION", `protocol version ${message.version} is not supported; this server speaks ${SUPPORTED_VERSIONS.join(", ")}`, undefined, SUPPORTED_VERSIONS);
  }
  // P10a: the highest version both speak; a client that offers none (version 1) gets version 1.
  // HELLO.version is 1 (checked above), which every server speaks: there is always a common version.
  return agreedVersion(message.version, message.versions) ?? PROTOCOL_VERSION;
}

/** The server's HELLO (P11): who the connection is, the CA and storage certificates, the limits. */
export function helloReply(ctx: ServerContext, agreed: number, identity: Identity | null): ServerMessage {
  return {
    type: "HELLO",
    protocol: PROTOCOL_NAME,
    version: agreed,
    server: `sis/${ctx.version}`,
    user: identity?.username ?? null,
    serial: identity?.serial ?? null,
    caCertificate: toBase64(ctx.ca.certDer),
    storageCertificate: toBase64(ctx.storageCertDer),
    ...(agreed >= STORAGE_ECDH_VERSION && ctx.storageEcdhCertDer && { storageEcdhCertificate: toBase64(ctx.storageEcdhCertDer) }),
    limits: { maxControlFrame: MAX_CONTROL_FRAME, maxDataFrame: MAX_DATA_FRAME, maxImageSize: ctx.limits.maxImageSize },
  };
}
