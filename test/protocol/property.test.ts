/** Property tests of FrameDecoder and the codec on arbitrary and mutated byte streams (P6, P7); SIS_FUZZ_RUNS scales them. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  CONTENT_TYPES,
  CONTROL,
  DATA,
  ERROR_CODE_LIST,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  type FrameDecoderOptions,
  LIST_PAGE_MAX,
  MAX_CONTROL_FRAME,
  MAX_DATA_FRAME,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  encodeData,
  encodeFrame,
  encodeMessage,
  maxPayload,
  toBase64,
  type ClientMessage,
  type ErrorCode,
  type Frame,
  type ServerMessage,
} from "../../src/protocol/index.ts";
import { CLIENT_SCHEMAS, SERVER_SCHEMAS } from "../../src/protocol/messages.ts";
import { concat, split } from "../support/bytes.ts";

const RUNS = Math.max(1, Number(process.env.SIS_FUZZ_RUNS) || 300);
// In `npm test` the cases are the same every run (a fixed seed), so the coverage checks of
// expectReached() cannot flake; `npm run fuzz:props` (SIS_FUZZ_RUNS) explores with fresh seeds,
// and SIS_FUZZ_SEED replays any run fast-check reports.
if (process.env.SIS_FUZZ_SEED || !process.env.SIS_FUZZ_RUNS) fc.configureGlobal({ seed: Number(process.env.SIS_FUZZ_SEED ?? 20261127) });
/** Time allowed per property: generous at the default, and growing with SIS_FUZZ_RUNS. */
const TIMEOUT = Math.max(10_000, RUNS * 40);
const FRAME_CODES: readonly ErrorCode[] = ["BAD_FRAME", "FRAME_TOO_LARGE"];
const MESSAGE_CODES: readonly ErrorCode[] = ["BAD_MESSAGE", "UNKNOWN_MESSAGE"];

// ---------------------------------------------------------------------------
// Valid messages

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Up to `max` code points (zod 4 counts code points), kept short so runs stay fast. */
const text = (max: number) => fc.oneof({ weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: Math.min(max, 24) }) }, { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: max, maxLength: max }) });
const base64 = fc.uint8Array({ maxLength: 200 }).map(toBase64);
const size = fc.oneof(fc.constantFrom(0, 1, MAX_SAFE), fc.maxSafeNat());
const seq = fc.oneof(fc.constantFrom(1, MAX_SAFE), fc.integer({ min: 1, max: MAX_SAFE }));
const imageId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex"));
const nonNegative = (x: number) => (x === 0 ? 0 : x); // JSON has no -0

const imageMeta = fc.record({
  seq,
  id: imageId,
  owner: text(64),
  name: text(1024),
  size,
  contentType: fc.constantFrom(...CONTENT_TYPES),
  createdAt: size,
});

const clientMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record({ type: fc.constant("HELLO" as const), protocol: fc.constant("sis" as const), version: fc.integer({ min: 0, max: 65535 }), client: text(64) }),
  fc.record({ type: fc.constant("REGISTER" as const), username: text(64), password: text(1024), csr: base64 }),
  fc.record({
    type: fc.constant("POST_IMAGE" as const),
    name: text(1024),
    contentType: text(64),
    size,
    dataSize: size,
    header: base64,
    signature: base64,
    wrappedKey: base64,
  }),
  fc.record({ type: fc.constant("DOWNLOAD" as const), id: imageId }),
  fc.record({ type: fc.constant("DOWNLOAD" as const), owner: text(64), name: text(1024) }),
  fc.record(
    { type: fc.constant("LIST" as const), before: seq, after: fc.maxSafeNat(), limit: fc.integer({ min: 1, max: LIST_PAGE_MAX }) },
    { requiredKeys: ["type"] },
  ),
  fc.constant({ type: "GET_CRL" as const }),
  fc.constant({ type: "PING" as const }),
);

const serverMessage: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record({
    type: fc.constant("HELLO" as const),
    protocol: fc.constant("sis" as const),
    version: fc.integer(),
    server: text(64),
    user: fc.option(text(64), { nil: null }),
    serial: fc.option(text(64), { nil: null }),
    caCertificate: base64,
    storageCertificate: base64,
    limits: fc.record({ maxControlFrame: size, maxDataFrame: size, maxImageSize: size }),
  }),
  fc.record({
    type: fc.constant("REGISTERED" as const),
    username: text(64),
    certificate: base64,
    caCertificate: base64,
    serial: text(64),
    notAfter: size,
    newUser: fc.boolean(),
  }),
  fc.constant({ type: "UPLOAD_READY" as const }),
  fc.record({ type: fc.constant("POSTED" as const), image: imageMeta }),
  fc.record({
    type: fc.constant("IMAGE" as const),
    image: imageMeta,
    header: base64,
    ownerCertificate: base64,
    signature: base64,
    wrappedKey: base64,
    dataSize: size,
  }),
  fc.record({ type: fc.constant("IMAGES" as const), images: fc.array(imageMeta, { maxLength: 8 }), next: fc.option(seq, { nil: null }) }),
  fc.record({ type: fc.constant("CRL" as const), dataSize: size }),
  fc.record({ type: fc.constant("NEW_IMAGE" as const), image: imageMeta }),
  fc.constant({ type: "PONG" as const }),
  fc.record(
    { type: fc.constant("ERROR" as const), code: text(32), message: text(1024), retryAfter: fc.double({ min: 0, max: 86_400, noNaN: true }).map(nonNegative) },
    { requiredKeys: ["type", "code", "message"] },
  ),
);

type Side = "client" | "server";
type Item = { side: Side; message: ClientMessage | ServerMessage } | { side: "data"; bytes: Uint8Array };

const dataBytes = fc.oneof({ weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }) }, { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(MAX_DATA_FRAME).fill(7), new Uint8Array(1)) });

const item: fc.Arbitrary<Item> = fc.oneof(
  clientMessage.map((message) => ({ side: "client" as const, message })),
  serverMessage.map((message) => ({ side: "server" as const, message })),
  dataBytes.map((bytes) => ({ side: "data" as const, bytes })),
);

function encodeItem(i: Item): Uint8Array {
  return i.side === "data" ? encodeData(i.bytes) : encodeMessage(i.message);
}

/** A control frame of exactly MAX_CONTROL_FRAME bytes holding a valid PING padded with JSON white space. */
const fullControlFrame = (() => {
  const payload = new Uint8Array(MAX_CONTROL_FRAME).fill(0x20);
  payload.set(new TextEncoder().encode('{"type":"PING"}'));
  return encodeFrame(CONTROL, payload);
})();

// ---------------------------------------------------------------------------
// Chunking and feeding

function assertTyped(e: unknown, allowed: readonly ErrorCode[], where: string): asserts e is ProtocolError {
  if (!(e instanceof ProtocolError)) throw new Error(`${where} threw an untyped ${String(e)}`, { cause: e });
  if (!(ERROR_CODE_LIST as string[]).includes(e.code)) throw new Error(`${where} threw a code outside ERROR_CODE_LIST: ${e.code}`);
  if (!allowed.includes(e.code)) throw new Error(`${where} threw ${e.code}, expected one of ${allowed.join(", ")}`);
}

function assertFrame(f: Frame): void {
  if (f.kind !== CONTROL && f.kind !== DATA) throw new Error(`decoder produced a frame of kind ${f.kind}`);
  if (f.payload.length < 1 || f.payload.length > maxPayload(f.kind)) throw new Error(`decoder produced a ${f.kind} payload of ${f.payload.length} bytes`);
}

interface Fed {
  frames: Frame[];
  error: ErrorCode | null;
  pending: number;
}

/** Feeds the pieces to a fresh decoder, checking every invariant of P6 on the way. */
function feed(pieces: Uint8Array[], options: FrameDecoderOptions = {}): Fed {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  let failure: ProtocolError | null = null;
  for (const piece of pieces) {
    try {
      for (const f of decoder.push(piece)) {
        assertFrame(f);
        frames.push(f);
      }
    } catch (e) {
      assertTyped(e, FRAME_CODES, "FrameDecoder.push()");
      failure = e;
      break;
    }
    // At most one partial frame is held, and never more than its header and its limit.
    if (decoder.pending >= FRAME_HEADER_SIZE + MAX_DATA_FRAME) throw new Error(`decoder holds ${decoder.pending} bytes`);
  }
  if (failure) {
    if (decoder.pending > FRAME_HEADER_SIZE) throw new Error(`a failed decoder holds ${decoder.pending} bytes`);
    let again: unknown = null;
    try {
      decoder.push(new Uint8Array([CONTROL]));
    } catch (e) {
      again = e;
    }
    if (again !== failure) throw new Error("the decoder did not stay failed");
  }
  return { frames, error: failure?.code ?? null, pending: decoder.pending };
}

/** Decodes a control payload both ways; returns the outcome of each. */
function decodeBoth(payload: Uint8Array): [string, string] {
  const out: string[] = [];
  for (const [name, decode] of [["decodeClientMessage()", decodeClientMessage], ["decodeServerMessage()", decodeServerMessage]] as const) {
    try {
      decode(payload);
      out.push("ok");
    } catch (e) {
      assertTyped(e, MESSAGE_CODES, name);
      out.push(e.code);
    }
  }
  return out as [string, string];
}

const hex = (f: Frame) => `${f.kind}:${Buffer.from(f.payload).toString("hex")}`;

/** Two feeds of the same bytes agree: the same error, and one's frames a prefix of the other's. */
function assertConsistent(a: Fed, b: Fed): void {
  if (a.error !== b.error) throw new Error(`chunking changed the error: ${a.error} vs ${b.error}`);
  const [short, long] = a.frames.length <= b.frames.length ? [a, b] : [b, a];
  for (let i = 0; i < short.frames.length; i++) {
    if (hex(short.frames[i]!) !== hex(long.frames[i]!)) throw new Error(`chunking changed frame ${i}`);
  }
  if (a.error === null && (a.frames.length !== b.frames.length || a.pending !== b.pending)) throw new Error("chunking changed the frames of a stream without errors");
}

// ---------------------------------------------------------------------------
// Mutations

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number }
  | { op: "duplicate"; at: number; count: number; to: number }
  | { op: "truncate"; at: number };

type FrameMutation = { op: "length"; frame: number; value: number } | { op: "kind"; frame: number; value: number };

const at = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at, value: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x22, 0x5c, 0x7b, 0x7d, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant("insert" as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("delete" as const), at, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at, count: fc.integer({ min: 1, max: 64 }), to: at }),
  fc.record({ op: fc.constant("truncate" as const), at }),
);

/** Lengths that sit on or next to the limits, and any u32. */
const lengthValue = fc.oneof(
  fc.constantFrom(0, 1, 2, MAX_CONTROL_FRAME - 1, MAX_CONTROL_FRAME, MAX_CONTROL_FRAME + 1, MAX_DATA_FRAME - 1, MAX_DATA_FRAME, MAX_DATA_FRAME + 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const frameMutation: fc.Arbitrary<FrameMutation> = fc.oneof(
  fc.record({ op: fc.constant("length" as const), frame: fc.nat(), value: lengthValue }),
  fc.record({ op: fc.constant("length" as const), frame: fc.nat(), value: fc.integer({ min: -3, max: 3 }) }), // relative
  fc.record({ op: fc.constant("kind" as const), frame: fc.nat(), value: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0xff), fc.integer({ min: 0, max: 255 })) }),
);

/** Rewrites a frame's header in place: a new kind, or a new length (absolute, or relative when in -3..3). */
function mutateFrame(frames: Uint8Array[], m: FrameMutation): void {
  if (frames.length === 0) return;
  const f = frames[m.frame % frames.length]!;
  const view = new DataView(f.buffer, f.byteOffset, FRAME_HEADER_SIZE);
  if (m.op === "kind") f[0] = m.value;
  else if (m.value >= -3 && m.value <= 3) view.setUint32(1, (view.getUint32(1, false) + m.value) >>> 0, false);
  else view.setUint32(1, m.value, false);
}

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const i = n === 0 ? 0 : m.at % n;
  switch (m.op) {
    case "flip": {
      if (n === 0) return bytes;
      const out = new Uint8Array(bytes);
      out[i]! ^= 1 << m.bit;
      return out;
    }
    case "set": {
      if (n === 0) return bytes;
      const out = new Uint8Array(bytes);
      out[i] = m.value;
      return out;
    }
    case "insert":
      return concat([bytes.subarray(0, i), m.bytes, bytes.subarray(i)]);
    case "delete":
      return concat([bytes.subarray(0, i), bytes.subarray(i + m.count)]);
    case "duplicate": {
      const piece = bytes.slice(i, i + m.count);
      const to = n === 0 ? 0 : m.to % (n + 1);
      return concat([bytes.subarray(0, to), piece, bytes.subarray(to)]);
    }
    case "truncate":
      return bytes.subarray(0, n === 0 ? 0 : m.at % (n + 1));
  }
}

/** Encoded valid frames, then header rewrites, then byte mutations. */
function mutatedStream(items: Item[], boundary: boolean, frameMutations: FrameMutation[], mutations: Mutation[]): Uint8Array {
  const frames = items.map((i) => new Uint8Array(encodeItem(i)));
  if (boundary) frames.push(new Uint8Array(fullControlFrame));
  for (const m of frameMutations) mutateFrame(frames, m);
  let bytes = concat(frames);
  for (const m of mutations) bytes = mutate(bytes, m);
  return bytes;
}

/** Decodes every control frame both ways, tallying the outcomes in `seen`. */
function decodeAll(fed: Fed, seen: Set<string>): void {
  seen.add(fed.error ?? "frames ok");
  for (const f of fed.frames) if (f.kind === CONTROL) for (const o of decodeBoth(f.payload)) seen.add(o);
}

/** Guards against a vacuous property: with enough runs, every listed outcome was reached. */
function expectReached(seen: Set<string>, outcomes: string[]): void {
  if (RUNS < 200) return;
  for (const o of outcomes) expect(seen).toContain(o);
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

// ---------------------------------------------------------------------------

describe("valid messages round-trip (P6, P7)", () => {
  test(
    "any valid client or server message, encoded and delivered in arbitrary chunks, decodes to an equal object (P6, P7)",
    () => {
      fc.assert(
        fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), cuts, (items, cutPoints) => {
          const stream = concat(items.map(encodeItem));
          const fed = feed(split(stream, cutPoints), { ownsChunks: cutPoints.length % 2 === 1 });
          expect(fed.error).toBeNull();
          expect(fed.pending).toBe(0);
          expect(fed.frames.length).toBe(items.length);
          items.forEach((it, n) => {
            const f = fed.frames[n]!;
            if (it.side === "data") {
              expect(f.kind).toBe(DATA);
              expect(Buffer.from(f.payload).equals(Buffer.from(it.bytes))).toBe(true);
            } else {
              expect(f.kind).toBe(CONTROL);
              const decoded = it.side === "client" ? decodeClientMessage(f.payload) : decodeServerMessage(f.payload);
              expect(decoded).toEqual(it.message);
            }
          });
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  test(
    "a decoded message encodes again to a frame that decodes to the same message (P7)",
    () => {
      fc.assert(
        fc.property(fc.oneof(clientMessage.map((m) => ["client", m] as const), serverMessage.map((m) => ["server", m] as const)), ([side, message]) => {
          const decode = side === "client" ? decodeClientMessage : decodeServerMessage;
          const once = decode(encodeMessage(message).subarray(FRAME_HEADER_SIZE));
          const twice = decode(encodeMessage(once).subarray(FRAME_HEADER_SIZE));
          expect(twice).toEqual(once);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});

describe("hostile byte streams (P6, P7)", () => {
  test(
    "arbitrary bytes in arbitrary chunks yield only typed frame errors and payloads within their kind's limit (P6)",
    () => {
      const stream = fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        // Mostly-plausible headers so the payload paths are reached, not only BAD_FRAME.
        // Half the lengths are exact, so whole frames with garbage payloads (BAD_MESSAGE) are common, not luck.
        fc.array(fc.tuple(fc.constantFrom(CONTROL, DATA, 0, 3), fc.boolean(), fc.integer({ min: 0, max: 300 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 6 }).map((parts) =>
          concat(
            parts.map(([kind, exact, length, body]) => {
              const h = new Uint8Array(FRAME_HEADER_SIZE);
              h[0] = kind;
              new DataView(h.buffer).setUint32(1, exact ? body.length : length, false);
              return concat([h, body]);
            }),
          ),
        ),
      );
      const seen = new Set<string>();
      fc.assert(
        fc.property(stream, cuts, (bytes, cutPoints) => {
          const chunked = feed(split(bytes, cutPoints), { ownsChunks: true }); // views of the pieces; compared with copies below
          decodeAll(chunked, seen);
          assertConsistent(chunked, feed([bytes]));
        }),
        { numRuns: RUNS },
      );
      expectReached(seen, ["frames ok", "BAD_FRAME", "BAD_MESSAGE"]);
    },
    TIMEOUT,
  );

  test(
    "mutated valid frame streams (flips, inserts, deletes, duplicates, rewritten lengths and kinds) yield only typed errors (P6, P7)",
    () => {
      const seen = new Set<string>();
      fc.assert(
        fc.property(
          fc.array(item, { minLength: 1, maxLength: 5 }),
          fc.boolean(),
          fc.array(frameMutation, { maxLength: 3 }),
          fc.array(mutation, { maxLength: 6 }),
          cuts,
          (items, boundary, frameMutations, mutations, cutPoints) => {
            const bytes = mutatedStream(items, boundary, frameMutations, mutations);
            const chunked = feed(split(bytes, cutPoints), { ownsChunks: true }); // views of the pieces; compared with copies below
            decodeAll(chunked, seen);
            assertConsistent(chunked, feed([bytes]));
            if (bytes.length <= 4096) {
              const oneByOne = feed(Array.from({ length: bytes.length }, (_, k) => bytes.subarray(k, k + 1)));
              assertConsistent(chunked, oneByOne);
              // Byte by byte, every frame before the first bad header comes out.
              expect(oneByOne.frames.length).toBeGreaterThanOrEqual(chunked.frames.length);
            }
          },
        ),
        { numRuns: RUNS },
      );
      expectReached(seen, ["frames ok", "BAD_FRAME", "FRAME_TOO_LARGE", "ok", "BAD_MESSAGE", "UNKNOWN_MESSAGE"]);
    },
    TIMEOUT,
  );

  test(
    "a rewritten length field is refused from the header alone when it breaks the limit, without buffering the payload (P6)",
    () => {
      fc.assert(
        fc.property(fc.constantFrom(CONTROL, DATA), lengthValue, (kind, length) => {
          const h = new Uint8Array(FRAME_HEADER_SIZE);
          h[0] = kind;
          new DataView(h.buffer).setUint32(1, length, false);
          const fed = feed([h]);
          const expected = length === 0 ? "BAD_FRAME" : length > maxPayload(kind) ? "FRAME_TOO_LARGE" : null;
          expect(fed.error).toBe(expected);
          expect(fed.pending).toBe(FRAME_HEADER_SIZE);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  test(
    "mutated control payloads decode to a message or fail with BAD_MESSAGE or UNKNOWN_MESSAGE only (P7)",
    () => {
      const seen = new Set<string>();
      fc.assert(
        fc.property(fc.oneof(clientMessage, serverMessage), fc.array(mutation, { minLength: 1, maxLength: 4 }), (message, mutations) => {
          let payload = encodeMessage(message).subarray(FRAME_HEADER_SIZE);
          for (const m of mutations) payload = mutate(payload, m);
          for (const o of decodeBoth(payload)) seen.add(o);
        }),
        { numRuns: RUNS },
      );
      expectReached(seen, ["ok", "BAD_MESSAGE", "UNKNOWN_MESSAGE"]);
    },
    TIMEOUT,
  );

  test(
    "JSON objects with a known type and arbitrary fields fail only with typed errors, and what is accepted round-trips (P7)",
    () => {
      const types = [...new Set([...Object.keys(CLIENT_SCHEMAS), ...Object.keys(SERVER_SCHEMAS)]), "NOPE", "__proto__", "constructor"];
      const fieldNames = fc.constantFrom("type", "protocol", "version", "client", "username", "password", "csr", "name", "id", "owner", "limit", "before", "after", "image", "images", "next", "dataSize", "code", "message", "retryAfter", "__proto__", "x");
      const candidate = fc.oneof(
        // A valid message with fields replaced, removed or added.
        fc.tuple(fc.oneof(clientMessage, serverMessage), fc.dictionary(fieldNames, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), fc.array(fieldNames, { maxLength: 2 })).map(([m, extra, drop]) => {
          const out: Record<string, unknown> = { ...m, ...extra };
          for (const k of drop) delete out[k];
          return out;
        }),
        fc.record({ type: fc.constantFrom(...types) }).chain((t) => fc.dictionary(fieldNames, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }).map((d) => ({ ...d, ...t }))),
      );
      const seen = new Set<string>();
      fc.assert(
        fc.property(candidate, (value) => {
          const payload = new TextEncoder().encode(JSON.stringify(value));
          if (payload.length > MAX_CONTROL_FRAME) return;
          for (const decode of [decodeClientMessage, decodeServerMessage]) {
            let decoded: ClientMessage | ServerMessage;
            try {
              decoded = decode(payload);
            } catch (e) {
              assertTyped(e, MESSAGE_CODES, decode.name);
              seen.add(e.code);
              continue;
            }
            seen.add("ok");
            expect(decode(encodeMessage(decoded).subarray(FRAME_HEADER_SIZE))).toEqual(decoded);
          }
        }),
        { numRuns: RUNS },
      );
      expectReached(seen, ["ok", "BAD_MESSAGE", "UNKNOWN_MESSAGE"]);
    },
    TIMEOUT,
  );
});
