/**
 * Hand-written checks of the server messages a client gets per image: the pushes (NEW_IMAGE,
 * IMAGE_DELETED, INCOMING, DELIVERED, DROPPED) and the replies a watch or a post reads per image.
 * Each is exactly as strict as its zod schema in messages.ts (P7): the codec runs it first and
 * returns the parsed JSON when it passes; when it fails, the zod schema runs and words the refusal,
 * so the accept/refuse decision and every error stay the schema's. The reason is cost: zod's
 * safeParse of one NEW_IMAGE took 5–50 µs against 0.3–3 µs for JSON.parse (bench/fanout-parts.ts),
 * paid once per watching connection per image. test/protocol/server-checks.test.ts holds every
 * check equal to its schema on random valid and mutated messages.
 */
import { CONTENT_TYPES, LIST_PAGE_MAX, MAX_DELIVERY_ID, MAX_INCOMING, MAX_SIGNATURE_SIZE, MAX_UPLOAD_ID, PROTOCOL_NAME, base64Length } from "./limits.ts";

type Check = (value: unknown) => boolean;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** zod's z.int().min(min).max(max): a finite integer in range (JSON has no NaN or Infinity). */
const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;

/** zod 4's string max counts code points: a surrogate pair is one (its util.codePointLength). */
function codePoints(s: string): number {
  let count = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

/** z.string().max(max); a string of at most `max` UTF-16 units has at most `max` code points. */
const text =
  (max: number): Check =>
  (v) =>
    typeof v === "string" && (v.length <= max || codePoints(v) <= max);

/**
 * messages.ts's b64(max): z.string().max(max).regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/).
 * The same set of strings: a length that is a multiple of 4, alphabet characters, then at most two
 * '=' (one '=' leaves 3 mod 4 characters before it, two leave 2), and twice as fast on a 21 KB
 * signature. Accepted strings are ASCII, so their length is their code-point count.
 */
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const b64 =
  (max: number): Check =>
  (v) =>
    typeof v === "string" && v.length <= max && v.length % 4 === 0 && BASE64_BODY.test(v);

const IMAGE_ID = /^[0-9a-f]{32}$/;
const imageId: Check = (v) => typeof v === "string" && v.length === 32 && IMAGE_ID.test(v);
const oneOf = (values: readonly unknown[]): Check => {
  const set = new Set(values);
  return (v) => set.has(v);
};
const literal =
  (value: string): Check =>
  (v) =>
    v === value;
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null || check(v);

/**
 * z.strictObject(shape) with `optional` keys marked .optional(): a non-array object, every
 * required key valid, every optional key absent or valid, no other key (zod's `for...in`, so
 * "__proto__" from JSON.parse is an unknown key as there).
 */
function strict(shape: Record<string, Check>, optional: readonly string[] = []): Check {
  const keys = new Set(Object.keys(shape));
  const required = Object.keys(shape).filter((k) => !optional.includes(k));
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    for (const k of required) if (!shape[k]!(o[k])) return false;
    for (const k of optional) if (o[k] !== undefined && !shape[k]!(o[k])) return false;
    for (const k in o) if (!keys.has(k)) return false;
    return true;
  };
}

const seq = int(1, MAX_SAFE);
const size = int(0, MAX_SAFE);
const uploadId = int(1, MAX_UPLOAD_ID);
const delivery = int(1, MAX_DELIVERY_ID);
const signature = b64(base64Length(MAX_SIGNATURE_SIZE));
const imageMeta = strict({ seq, id: imageId, owner: text(64), name: text(1024), size, contentType: oneOf(CONTENT_TYPES), createdAt: size });

/**
 * One check per server message type it covers; the codec uses zod for every other type. HELLO is
 * here for start-up, not cost: with it, a `sis post` decodes everything it gets without zod, and
 * so never loads it (codec.ts).
 */
export const SERVER_CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  [
    "HELLO",
    strict({
      type: literal("HELLO"),
      protocol: literal(PROTOCOL_NAME),
      // z.int(): a safe integer.
      version: int(-MAX_SAFE, MAX_SAFE),
      server: text(64),
      user: nullable(text(64)),
      serial: nullable(text(64)),
      caCertificate: b64(22_000),
      storageCertificate: b64(22_000),
      storageEcdhCertificate: b64(22_000),
      limits: strict({ maxControlFrame: size, maxDataFrame: size, maxImageSize: size }),
    }, ["storageEcdhCertificate"]),
  ],
  ["NEW_IMAGE", strict({ type: literal("NEW_IMAGE"), image: imageMeta })],
  ["IMAGE_DELETED", strict({ type: literal("IMAGE_DELETED"), image: strict({ seq, id: imageId, owner: text(64), name: text(1024) }) })],
  [
    "INCOMING",
    strict({
      type: literal("INCOMING"),
      delivery,
      id: imageId,
      owner: text(64),
      name: text(1024),
      contentType: oneOf(CONTENT_TYPES),
      size,
      dataSize: size,
      header: b64(2_048),
      wrappedKey: b64(1_400),
    }),
  ],
  ["DELIVERED", strict({ type: literal("DELIVERED"), delivery, image: imageMeta, signature })],
  ["DROPPED", strict({ type: literal("DROPPED"), delivery, reason: oneOf(["FAILED", "BEHIND"]) })],
  ["INCOMING_ON", strict({ type: literal("INCOMING_ON"), maxIncoming: int(1, MAX_INCOMING) })],
  [
    "IMAGE",
    strict({
      type: literal("IMAGE"),
      image: imageMeta,
      header: b64(2_048),
      ownerCertificate: b64(22_000),
      signature,
      wrappedKey: b64(1_400),
      dataSize: size,
      from: size,
    }, ["from"]),
  ],
  [
    "IMAGES",
    strict({
      type: literal("IMAGES"),
      images: (v) => Array.isArray(v) && v.length <= LIST_PAGE_MAX && v.every(imageMeta),
      next: nullable(seq),
    }),
  ],
  ["CRL", strict({ type: literal("CRL"), dataSize: size })],
  ["UPLOAD_READY", strict({ type: literal("UPLOAD_READY"), upload: uploadId }, ["upload"])],
  ["POSTED", strict({ type: literal("POSTED"), image: imageMeta, upload: uploadId }, ["upload"])],
  ["PONG", strict({ type: literal("PONG") })],
]);
