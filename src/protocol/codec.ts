/** Control message codec: bounded JSON in, strict schema check, typed message out. */
import type { z } from "zod";
import { ProtocolError } from "./errors.ts";
import { CONTROL, DATA, encodeFrame, encodeFrameInPlace } from "./frame.ts";
import { MAX_JSON_DEPTH } from "./limits.ts";
import type * as Messages from "./messages.ts";
import type { ClientMessage, ImageMeta, ServerMessage } from "./messages.ts";
import { MAX_CONTROL_FRAME } from "./limits.ts";
import { SERVER_CHECKS } from "./server-checks.ts";

/**
 * The zod schemas, loaded at the first decode that needs one. A client's per-image messages pass
 * the hand-written checks (server-checks.ts) and never need them, so a `sis post` or `sis watch`
 * starts without building zod and ~50 schemas: 6.6 ms of a compiled program's start here
 * (bench/README.md, "Issue 17 on a second machine"). A refusal still has the schema's words.
 */
let loaded: typeof Messages | null = null;
function messages(): typeof Messages {
  // A synchronous load (Bun's require of an ES module): decoding stays synchronous.
  return (loaded ??= require("./messages.ts") as typeof Messages);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Nesting depth of a JSON text, counted without parsing it (P7). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * True when `text` has at most `max` opening brackets at all, inside strings or not: its depth is
 * then at most `max` without the character-by-character scan of jsonDepth. Most messages have two
 * or three (base64 has none); a page of images has a hundred and is scanned.
 */
function fewBrackets(text: string, max: number): boolean {
  let n = 0;
  for (const bracket of ["{", "["]) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) if (++n > max) return false;
  }
  return true;
}

function parseObject(payload: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    throw new ProtocolError("BAD_MESSAGE", "control frame is not valid UTF-8");
  }
  if (!fewBrackets(text, MAX_JSON_DEPTH) && jsonDepth(text) > MAX_JSON_DEPTH) throw new ProtocolError("BAD_MESSAGE", `JSON nested deeper than ${MAX_JSON_DEPTH}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError("BAD_MESSAGE", "control frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("BAD_MESSAGE", "control frame is not a JSON object");
  }
  return value as Record<string, unknown>;
}

function decodeWith<T>(payload: Uint8Array, table: () => Record<string, z.ZodType>, checks?: ReadonlyMap<string, (value: unknown) => boolean>): T {
  const value = parseObject(payload);
  const type = value.type;
  if (typeof type !== "string") throw new ProtocolError("BAD_MESSAGE", "message has no string 'type'");
  // A hand-written check exactly as strict as the schema (server-checks.ts): what it accepts, zod
  // accepts unchanged; what it refuses goes on to zod, which words the refusal. Every checked
  // type has a schema, so trying the check before the type look-up decides nothing differently.
  if (checks?.get(type)?.(value)) return value as T;
  const schemas = table();
  if (!Object.hasOwn(schemas, type)) throw new ProtocolError("UNKNOWN_MESSAGE", `unknown message type ${JSON.stringify(type.slice(0, 32))}`);
  const result = schemas[type]!.safeParse(value);
  if (!result.success) {
    // Only our own words go back to the peer: zod's messages quote the
    // offending keys and values, which an attacker chooses and sizes.
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.map((p) => String(p).slice(0, 32)).join(".").slice(0, 100) : "message";
    const what = issue?.code === "unrecognized_keys" ? "unknown field" : (issue?.code ?? "schema violation").replaceAll("_", " ");
    throw new ProtocolError("BAD_MESSAGE", `invalid ${type}: ${where}: ${what}`);
  }
  return result.data as T;
}

/**
 * The messages of one protocol version (P10a): version 1 has POST_IMAGE with its signature and no
 * POST_SIGNATURE, exactly as a server of version 1 decodes them; version 2 has POST_IMAGE with an
 * upload id (P30). Without a version, every form is accepted (HELLO, before a version is agreed).
 */
let byVersion: Record<number, Record<string, z.ZodType>> | null = null;
/** Version 3 (P40) adds WATCH_INCOMING, version 4 DOWNLOAD.from (P23a), version 5 nothing a client sends (P11a); earlier versions decode exactly as their servers did. */
function schemasByVersion(): Record<number, Record<string, z.ZodType>> {
  if (byVersion) return byVersion;
  const { CLIENT_SCHEMAS, DownloadV1, PostImageV1, PostImageV2 } = messages();
  const { POST_SIGNATURE: _signature, WATCH_INCOMING: _watch, ...V1_COMMON } = CLIENT_SCHEMAS;
  const { WATCH_INCOMING: _watch2, ...V2_COMMON } = CLIENT_SCHEMAS;
  byVersion = {
    1: { ...V1_COMMON, POST_IMAGE: PostImageV1, DOWNLOAD: DownloadV1 },
    2: { ...V2_COMMON, POST_IMAGE: PostImageV2, DOWNLOAD: DownloadV1 },
    3: { ...CLIENT_SCHEMAS, POST_IMAGE: PostImageV2, DOWNLOAD: DownloadV1 },
    // Version 4 (P23a): DOWNLOAD takes `from`; on 1–3 it stays an unknown field (P7).
    4: { ...CLIENT_SCHEMAS, POST_IMAGE: PostImageV2 },
    // Version 5 (P11a) changes only the server's HELLO and the wrapped key's form: its messages are version 4's.
    5: { ...CLIENT_SCHEMAS, POST_IMAGE: PostImageV2 },
  };
  return byVersion;
}

export function decodeClientMessage(payload: Uint8Array, version?: number): ClientMessage {
  return decodeWith<ClientMessage>(payload, () => (version !== undefined && schemasByVersion()[version]) || messages().CLIENT_SCHEMAS);
}

const serverSchemas = () => messages().SERVER_SCHEMAS;

export function decodeServerMessage(payload: Uint8Array): ServerMessage {
  return decodeWith<ServerMessage>(payload, serverSchemas, SERVER_CHECKS);
}

/** Encodes a control message as a frame. */
export function encodeMessage(message: ClientMessage | ServerMessage): Uint8Array {
  const payload = encoder.encode(JSON.stringify(message));
  if (payload.length > MAX_CONTROL_FRAME) throw new ProtocolError("INTERNAL", `a ${message.type} message would exceed the control frame limit`);
  return encodeFrame(CONTROL, payload);
}

export function encodeData(bytes: Uint8Array): Uint8Array {
  return encodeFrame(DATA, bytes);
}

/** A data frame from a buffer whose first FRAME_HEADER_SIZE bytes were left free for the header: no copy. */
export function encodeDataInPlace(frame: Uint8Array): Uint8Array {
  return encodeFrameInPlace(DATA, frame);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/**
 * An IMAGES page that fits one control frame (P6): long names can make a
 * full page too big, so images are dropped from its end until it fits and
 * `next` then points after the last image sent. `more` says whether the
 * store has images beyond `images`.
 */
export function encodeImagesPage(images: ImageMeta[], more: boolean): Uint8Array {
  let page = images;
  let next = more && page.length > 0 ? page.at(-1)!.seq : null;
  let payload = encoder.encode(JSON.stringify({ type: "IMAGES", images: page, next }));
  while (payload.length > MAX_CONTROL_FRAME && page.length > 1) {
    page = page.slice(0, Math.max(1, Math.floor(page.length * 0.9)));
    next = page.at(-1)!.seq;
    payload = encoder.encode(JSON.stringify({ type: "IMAGES", images: page, next }));
  }
  return encodeFrame(CONTROL, payload);
}
