/**
 * Message schemas (PROTOCOL.md section 4): one strict zod schema per message. A client loads this
 * module (and zod) only when it needs a schema's words for a refusal (codec.ts): its types are
 * re-exported by index.ts as types only.
 */
import { z } from "zod";
import { base64Length, CONTENT_TYPES, LIST_PAGE_MAX, MAX_DELIVERY_ID, MAX_INCOMING, MAX_SIGNATURE_SIZE, MAX_TIMESTAMP_TOKEN_SIZE, MAX_UPLOAD_ID, PASSWORD_MAX, PROTOCOL_NAME } from "./limits.ts";

/** Standard base64 with padding, bounded in length before it is decoded. */
const b64 = (maxChars: number) =>
  z.string().max(maxChars).regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "not base64");

/** The signature field in POST_IMAGE and IMAGE: exactly the base64 of MAX_SIGNATURE_SIZE bytes (V1), 21,848 characters. */
const signature = () => b64(base64Length(MAX_SIGNATURE_SIZE));

const seq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const size = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const imageId = z.string().regex(/^[0-9a-f]{32}$/);
/** Version 2 (P30): the client's id of one upload on its connection. */
const uploadId = z.int().min(1).max(MAX_UPLOAD_ID);
/** Names are checked fully by the server's name rules (P20); here only bounded. */
const shortText = (max: number) => z.string().max(max);

export const ImageMetaSchema = z.strictObject({
  seq,
  id: imageId,
  owner: shortText(64),
  name: shortText(1024),
  size,
  contentType: z.enum(CONTENT_TYPES),
  createdAt: size,
});
export type ImageMeta = z.infer<typeof ImageMetaSchema>;

// Client to server.
export const ClientHello = z.strictObject({
  type: z.literal("HELLO"),
  protocol: z.literal(PROTOCOL_NAME),
  version: z.int().min(0).max(65535),
  client: shortText(64),
  /** P10a: every protocol version the client speaks; absent: only `version`. Optional, so a client of version 1 sends exactly what it always sent. */
  versions: z.array(z.int().min(1).max(65535)).min(1).max(16).optional(),
});
const registerFields = {
  type: z.literal("REGISTER"),
  // Loose bound: a long password reaches the rules (P13) and gets WEAK_PASSWORD.
  password: z.string().max(4 * PASSWORD_MAX),
  csr: b64(22_000),
  /** The new certificate's device name; optional, so an older client still registers. */
  device: shortText(256).optional(),
};
/** Membership (M4): the invitation's secret, base64url of 32 bytes. */
const invitationSecret = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not an invitation secret");
export const Register = z.union([
  z.strictObject({
    ...registerFields,
    // Bounded loosely here so that an over-long name gets BAD_USERNAME from the name rules (P13).
    username: shortText(1024),
    // Optional, so older clients still parse.
    invitation: invitationSecret.optional(),
  }),
  // M4: no name, only an invitation; the server registers the name the invitation was made for.
  z.strictObject({ ...registerFields, invitation: invitationSecret }),
]);
const postFields = {
  type: z.literal("POST_IMAGE"),
  name: shortText(1024),
  contentType: shortText(64),
  size,
  dataSize: size,
  header: b64(2_048),
  wrappedKey: b64(1_400),
};
/** Version 1: the signature before the data. */
export const PostImageV1 = z.strictObject({ ...postFields, signature: signature() });
/** Version 2 (P30): an upload id, no signature (POST_SIGNATURE follows the data). */
export const PostImageV2 = z.strictObject({ ...postFields, upload: uploadId });
export const PostImage = z.union([PostImageV1, PostImageV2]);
/** Version 2 (P33): the owner's CMS signature, after the upload's last data frame. */
export const PostSignature = z.strictObject({ type: z.literal("POST_SIGNATURE"), upload: uploadId, signature: signature() });
export const DownloadV1 = z.union([
  z.strictObject({ type: z.literal("DOWNLOAD"), id: imageId }),
  z.strictObject({ type: z.literal("DOWNLOAD"), owner: shortText(64), name: shortText(1024) }),
]);
/**
 * Version 4 (P23a): `from`, a ciphertext byte offset to start at. Any safe integer passes the
 * schema: one outside 0 ≤ from < dataSize is the handler's BAD_RANGE (not fatal), so a client
 * can fall back to the whole image on the same connection.
 */
const from = z.int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional();
export const Download = z.union([
  z.strictObject({ type: z.literal("DOWNLOAD"), id: imageId, from }),
  z.strictObject({ type: z.literal("DOWNLOAD"), owner: shortText(64), name: shortText(1024), from }),
]);
export const List = z.strictObject({
  type: z.literal("LIST"),
  before: seq.optional(),
  after: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.int().min(1).max(LIST_PAGE_MAX).optional(),
});
// Renewal (RN1–RN6): a new certificate over mutual TLS with the current one, no password.
export const Renew = z.strictObject({ type: z.literal("RENEW"), csr: b64(22_000) });
export const GetCrl = z.strictObject({ type: z.literal("GET_CRL") });
// Membership (M14): change the password on an authenticated connection.
export const Passwd = z.strictObject({
  type: z.literal("PASSWD"),
  password: z.string().max(4 * PASSWORD_MAX),
  newPassword: z.string().max(4 * PASSWORD_MAX),
});
export const Ping = z.strictObject({ type: z.literal("PING") });

// Server to client.
export const ServerHello = z.strictObject({
  type: z.literal("HELLO"),
  protocol: z.literal(PROTOCOL_NAME),
  version: z.int(),
  server: shortText(64),
  user: shortText(64).nullable(),
  serial: shortText(64).nullable(),
  caCertificate: b64(22_000),
  storageCertificate: b64(22_000),
  // Version 5 (P11a): the P-256 storage certificate, on a server that has one.
  storageEcdhCertificate: b64(22_000).optional(),
  limits: z.strictObject({ maxControlFrame: size, maxDataFrame: size, maxImageSize: size }),
});
export const Registered = z.strictObject({
  type: z.literal("REGISTERED"),
  username: shortText(64),
  certificate: b64(22_000),
  caCertificate: b64(22_000),
  serial: shortText(64),
  notAfter: size,
  newUser: z.boolean(),
});
// Renewal (RN4): the new certificate; the one the connection presented stays valid until it expires.
export const Renewed = z.strictObject({
  type: z.literal("RENEWED"),
  username: shortText(64),
  certificate: b64(22_000),
  caCertificate: b64(22_000),
  serial: shortText(64),
  notAfter: size,
});
/** `upload` in version 2 only (P30); a version-1 session never gets it. */
export const UploadReady = z.strictObject({ type: z.literal("UPLOAD_READY"), upload: uploadId.optional() });
export const Posted = z.strictObject({ type: z.literal("POSTED"), image: ImageMetaSchema, upload: uploadId.optional() });
export const Image = z.strictObject({
  type: z.literal("IMAGE"),
  image: ImageMetaSchema,
  header: b64(2_048),
  ownerCertificate: b64(22_000),
  signature: signature(),
  wrappedKey: b64(1_400),
  dataSize: size,
  /** Version 4 (P23a): the DOWNLOAD's `from`; dataSize − from bytes follow. Only when the DOWNLOAD had one. */
  from: size.optional(),
});
export const Images = z.strictObject({ type: z.literal("IMAGES"), images: z.array(ImageMetaSchema).max(LIST_PAGE_MAX), next: seq.nullable() });
export const Crl = z.strictObject({ type: z.literal("CRL"), dataSize: size });
export const NewImage = z.strictObject({ type: z.literal("NEW_IMAGE"), image: ImageMetaSchema });
export const Pong = z.strictObject({ type: z.literal("PONG") });
export const PasswdChanged = z.strictObject({ type: z.literal("PASSWD_CHANGED"), username: shortText(64) });
export const ErrorMessage = z.strictObject({
  type: z.literal("ERROR"),
  code: shortText(32),
  message: shortText(1024),
  retryAfter: z.number().min(0).max(86_400).optional(),
  /** UNSUPPORTED_VERSION only: the protocol versions the server speaks (P10). Optional, so older clients still parse ERROR. */
  versions: z.array(z.int().min(0).max(65535)).min(1).max(16).optional(),
  /** Version 2 (P30): the upload the refusal is about; absent when it is about the connection. */
  upload: uploadId.optional(),
});

// --- devices, link codes, usage, deletion (PROTOCOL.md M20–M29) ---
/** A device name (--device): printable, bounded; the server checks it fully (M21). */
const deviceName = () => shortText(256);
const serialText = () => shortText(128);
// Client to server.
export const CreateLink = z.strictObject({ type: z.literal("CREATE_LINK") });
export const LinkDevice = z.strictObject({
  type: z.literal("LINK_DEVICE"),
  code: shortText(128),
  csr: b64(22_000),
  device: deviceName().optional(),
});
export const ListDevices = z.strictObject({ type: z.literal("LIST_DEVICES") });
export const RemoveDevice = z.strictObject({ type: z.literal("REMOVE_DEVICE"), serial: serialText() });
export const GetUsage = z.strictObject({ type: z.literal("GET_USAGE") });
export const DeleteImage = z.union([
  z.strictObject({ type: z.literal("DELETE_IMAGE"), name: shortText(1024) }),
  z.strictObject({ type: z.literal("DELETE_IMAGE"), id: imageId }),
]);
// Server to client.
export const LinkCreated = z.strictObject({ type: z.literal("LINK_CREATED"), code: shortText(128), expiresAt: size });
export const DeviceSchema = z.strictObject({
  serial: serialText(),
  device: deviceName().nullable(),
  createdAt: size,
  notAfter: size,
  revokedAt: size.nullable(),
  lastSeenAt: size.nullable(),
  current: z.boolean(),
});
export const Devices = z.strictObject({ type: z.literal("DEVICES"), devices: z.array(DeviceSchema).max(10_000) });
export const DeviceRemoved = z.strictObject({ type: z.literal("DEVICE_REMOVED"), serial: serialText(), alreadyRevoked: z.boolean() });
export const Usage = z.strictObject({
  type: z.literal("USAGE"),
  /** Ciphertext bytes stored, and in uploads under way. */
  bytes: size,
  inFlight: size,
  images: size,
  /** 0: no quota. */
  quota: size,
  postsPerMinute: size,
  bytesPerMinute: size,
});
export const Deleted = z.strictObject({ type: z.literal("DELETED"), image: ImageMetaSchema });
/** Push, like NEW_IMAGE (M27): an image is gone from the server. */
export const ImageDeleted = z.strictObject({
  type: z.literal("IMAGE_DELETED"),
  image: z.strictObject({ seq, id: imageId, owner: shortText(64), name: shortText(1024) }),
});

// --- cut-through delivery, version 3 (PROTOCOL.md P40–P49) ---
const delivery = z.int().min(1).max(MAX_DELIVERY_ID);
/** Client to server (P40): this connection takes INCOMING pushes; answered with INCOMING_ON. */
export const WatchIncoming = z.strictObject({ type: z.literal("WATCH_INCOMING") });
export const IncomingOn = z.strictObject({ type: z.literal("INCOMING_ON"), maxIncoming: z.int().min(1).max(MAX_INCOMING) });
/** Push (P41): an upload started; its ciphertext follows in PUSH_DATA frames of this delivery number. */
export const Incoming = z.strictObject({
  type: z.literal("INCOMING"),
  delivery,
  id: imageId,
  owner: shortText(64),
  name: shortText(1024),
  contentType: z.enum(CONTENT_TYPES),
  size,
  dataSize: size,
  header: b64(2_048),
  /** The content key wrapped for this connection's certificate (P24's re-wrap, done at upload start). */
  wrappedKey: b64(1_400),
});
/** Push (P42): the image is durable on the server; the receiver verifies and saves it. */
export const Delivered = z.strictObject({ type: z.literal("DELIVERED"), delivery, image: ImageMetaSchema, signature: signature() });
/** Push (P43): the delivery ends without an image here (the upload failed, or this receiver fell behind). */
export const Dropped = z.strictObject({ type: z.literal("DROPPED"), delivery, reason: z.enum(["FAILED", "BEHIND"]) });

export const CLIENT_SCHEMAS = {
  HELLO: ClientHello,
  REGISTER: Register,
  RENEW: Renew,
  POST_IMAGE: PostImage,
  POST_SIGNATURE: PostSignature,
  DOWNLOAD: Download,
  LIST: List,
  GET_CRL: GetCrl,
  PING: Ping,
  CREATE_LINK: CreateLink,
  LINK_DEVICE: LinkDevice,
  LIST_DEVICES: ListDevices,
  REMOVE_DEVICE: RemoveDevice,
  GET_USAGE: GetUsage,
  DELETE_IMAGE: DeleteImage,
  PASSWD: Passwd,
  WATCH_INCOMING: WatchIncoming,
} as const;

export const SERVER_SCHEMAS = {
  HELLO: ServerHello,
  REGISTERED: Registered,
  RENEWED: Renewed,
  UPLOAD_READY: UploadReady,
  POSTED: Posted,
  IMAGE: Image,
  IMAGES: Images,
  CRL: Crl,
  NEW_IMAGE: NewImage,
  PONG: Pong,
  PASSWD_CHANGED: PasswdChanged,
  ERROR: ErrorMessage,
  LINK_CREATED: LinkCreated,
  DEVICES: Devices,
  DEVICE_REMOVED: DeviceRemoved,
  USAGE: Usage,
  DELETED: Deleted,
  IMAGE_DELETED: ImageDeleted,
  INCOMING_ON: IncomingOn,
  INCOMING: Incoming,
  DELIVERED: Delivered,
  DROPPED: Dropped,
} as const;

type Infer<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.infer<T[K]> }[keyof T];
export type ClientMessage = Infer<typeof CLIENT_SCHEMAS>;
export type ServerMessage = Infer<typeof SERVER_SCHEMAS>;
export type ClientMessageOf<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;
export type ServerMessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;
