/** Pushes ≥ 1,000,000 mutated frames through FrameDecoder and the codec; any error that is not a typed ProtocolError fails the run. */
// Usage: bun bench/fuzz-frames.ts [--frames N] [--seed S] [--start I --count C]
// Each stream is generated from (seed, index) alone, so a failure printed as
// "seed 1 stream 12345" reproduces with --seed 1 --start 12345 --count 1.
import {
  CONTENT_TYPES,
  CONTROL,
  DATA,
  ERROR_CODE_LIST,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  MAX_CONTROL_FRAME,
  MAX_DATA_FRAME,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  encodeFrame,
  encodeMessage,
  maxPayload,
  toBase64,
  type ClientMessage,
  type Frame,
  type ServerMessage,
} from "../src/protocol/index.ts";
import { concat, split } from "../test/support/bytes.ts";
import { seededStream, type Seeded } from "../test/support/seeded.ts";

// ---------------------------------------------------------------------------
// Seeded streams: the test kit's sfc32 (test/support/seeded.ts), one per (seed, stream index).

type Rng = Seeded;
/** An integer in [0, n); 0 when n is 0 or less. */
const int = (r: Rng, n: number) => (n <= 0 ? 0 : r.below(n));
const chance = (r: Rng, p: number) => r.next() < p;

// ---------------------------------------------------------------------------
// Corpus: valid messages and data frames, built once from a fixed seed.

const UNICODE = ["a", "z", "0", "-", "_", ".", " ", "é", "ß", "日", "😀", "\u202e", "\u0000", "\u001f", "\"", "\\", "/", "\u2028", "\ud800"];

function text(r: Rng, max: number): string {
  const n = chance(r, 0.1) ? max : int(r, Math.min(max, 20) + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += chance(r, 0.7) ? String.fromCharCode(0x61 + int(r, 26)) : r.pick(UNICODE);
  return s;
}

const b64 = (r: Rng, maxBytes: number) => toBase64(r.bytes(chance(r, 0.05) ? maxBytes : int(r, Math.min(maxBytes, 400) + 1)));
const size = (r: Rng) => r.pick([0, 1, 1234, 2 ** 31, Number.MAX_SAFE_INTEGER, int(r, 1e9)]);
const hexId = (r: Rng) => Buffer.from(r.bytes(16)).toString("hex");

function meta(r: Rng) {
  return { seq: 1 + int(r, 1e6), id: hexId(r), owner: text(r, 32), name: text(r, 200), size: size(r), contentType: r.pick(CONTENT_TYPES), createdAt: size(r) };
}

function clientMessage(r: Rng): ClientMessage {
  switch (int(r, 8)) {
    case 0:
      return { type: "HELLO", protocol: "sis", version: int(r, 3), client: text(r, 64) };
    case 1:
      return { type: "REGISTER", username: text(r, 32), password: text(r, 64), csr: b64(r, 16_000) };
    case 2:
      return { type: "POST_IMAGE", name: text(r, 255), contentType: r.pick(CONTENT_TYPES), size: size(r), dataSize: size(r), header: b64(r, 1_500), signature: b64(r, 30_000), wrappedKey: b64(r, 1_000) };
    case 3:
      return { type: "DOWNLOAD", id: hexId(r) };
    case 4:
      return { type: "DOWNLOAD", owner: text(r, 32), name: text(r, 255) };
    case 5:
      return { type: "LIST", ...(chance(r, 0.5) ? { after: int(r, 1e6) } : { before: 1 + int(r, 1e6) }), limit: 1 + int(r, 100) };
    case 6:
      return { type: "GET_CRL" };
    default:
      return { type: "PING" };
  }
}

function serverMessage(r: Rng): ServerMessage {
  switch (int(r, 10)) {
    case 0:
      return {
        type: "HELLO", protocol: "sis", version: 1, server: "sis/0.1.0", user: chance(r, 0.5) ? null : text(r, 32), serial: chance(r, 0.5) ? null : hexId(r),
        caCertificate: b64(r, 16_000), storageCertificate: b64(r, 16_000), limits: { maxControlFrame: MAX_CONTROL_FRAME, maxDataFrame: MAX_DATA_FRAME, maxImageSize: size(r) },
      };
    case 1:
      return { type: "REGISTERED", username: text(r, 32), certificate: b64(r, 2_000), caCertificate: b64(r, 2_000), serial: hexId(r), notAfter: size(r), newUser: chance(r, 0.5) };
    case 2:
      return { type: "UPLOAD_READY" };
    case 3:
      return { type: "POSTED", image: meta(r) };
    case 4:
      return { type: "IMAGE", image: meta(r), header: b64(r, 1_500), ownerCertificate: b64(r, 2_000), signature: b64(r, 20_000), wrappedKey: b64(r, 1_000), dataSize: size(r) };
    case 5:
      return { type: "IMAGES", images: Array.from({ length: int(r, 20) }, () => meta(r)), next: chance(r, 0.5) ? null : 1 + int(r, 1e6) };
    case 6:
      return { type: "CRL", dataSize: size(r) };
    case 7:
      return { type: "NEW_IMAGE", image: meta(r) };
    case 8:
      return { type: "PONG" };
    default:
      return { type: "ERROR", code: r.pick(ERROR_CODE_LIST), message: text(r, 200), ...(chance(r, 0.3) ? { retryAfter: int(r, 900) } : {}) };
  }
}

interface Sample {
  frame: Uint8Array;
  /** The message, for JSON-level mutations; null for data frames. */
  message: Record<string, unknown> | null;
}

function buildCorpus(): Sample[] {
  const r = seededStream(0x5151, 0);
  const corpus: Sample[] = [];
  for (let i = 0; i < 400; i++) {
    const m = i % 2 === 0 ? clientMessage(r) : serverMessage(r);
    corpus.push({ frame: encodeMessage(m), message: m as Record<string, unknown> });
  }
  for (let i = 0; i < 100; i++) corpus.push({ frame: encodeFrame(DATA, r.bytes(1 + int(r, i < 90 ? 512 : 8_192))), message: null });
  // Frames at exactly the limits: a PING padded with JSON white space, and a full data frame.
  const full = new Uint8Array(MAX_CONTROL_FRAME).fill(0x20);
  full.set(new TextEncoder().encode('{"type":"PING"}'));
  corpus.push({ frame: encodeFrame(CONTROL, full), message: null });
  corpus.push({ frame: encodeFrame(DATA, new Uint8Array(MAX_DATA_FRAME).fill(0xa5)), message: null });
  return corpus;
}

// ---------------------------------------------------------------------------
// Mutations

const TYPES = ["HELLO", "REGISTER", "POST_IMAGE", "DOWNLOAD", "LIST", "GET_CRL", "PING", "REGISTERED", "UPLOAD_READY", "POSTED", "IMAGE", "IMAGES", "CRL", "NEW_IMAGE", "PONG", "ERROR", "NOPE", "__proto__", "constructor", ""];
const KEYS = ["type", "protocol", "version", "client", "username", "password", "csr", "name", "id", "owner", "limit", "before", "after", "image", "images", "next", "dataSize", "code", "message", "retryAfter", "limits", "__proto__", "x"];
const LENGTHS = [0, 1, 2, MAX_CONTROL_FRAME - 1, MAX_CONTROL_FRAME, MAX_CONTROL_FRAME + 1, MAX_DATA_FRAME - 1, MAX_DATA_FRAME, MAX_DATA_FRAME + 1, 0x7fffffff, 0x80000000, 0xffffffff];

function jsonValue(r: Rng, depth: number): unknown {
  switch (int(r, depth > 10 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return chance(r, 0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 65_536, int(r, 1e6)]);
    case 3:
      return text(r, 40);
    case 4:
      return r.pick(TYPES);
    case 5:
    case 6:
      return Array.from({ length: int(r, 3) }, () => jsonValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 3); i > 0; i--) o[r.pick(KEYS)] = jsonValue(r, depth + 1);
      return o;
    }
  }
}

/** A structural change to a valid message, re-encoded as a well-formed frame. */
function mutateJson(r: Rng, message: Record<string, unknown>): Uint8Array | null {
  const m: Record<string, unknown> = structuredClone(message);
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const keys = Object.keys(m);
    if (keys.length === 0) keys.push("type");
    switch (int(r, 6)) {
      case 0:
        delete m[r.pick(keys)];
        break;
      case 1:
        m[r.pick(KEYS)] = jsonValue(r, 0);
        break;
      case 2:
        m[r.pick(keys)] = jsonValue(r, 0);
        break;
      case 3:
        m.type = r.pick(TYPES);
        break;
      case 4: {
        // Deep nesting on both sides of MAX_JSON_DEPTH.
        let v: unknown = 1;
        for (let d = 5 + int(r, 6); d > 0; d--) v = chance(r, 0.5) ? [v] : { a: v };
        m[r.pick(keys)] = v;
        break;
      }
      default: {
        const key = r.pick(keys);
        if (typeof m[key] === "string") m[key] = (m[key] as string) + text(r, 8);
        else if (typeof m[key] === "number") m[key] = r.pick([-1, 0, 0.5, 2 ** 53, NaN]);
      }
    }
  }
  const payload = new TextEncoder().encode(JSON.stringify(m) ?? "null");
  if (payload.length === 0 || payload.length > MAX_CONTROL_FRAME) return null;
  return encodeFrame(CONTROL, payload);
}

function mutateHeader(r: Rng, frame: Uint8Array): void {
  const view = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_SIZE);
  switch (int(r, 4)) {
    case 0:
      frame[0] = r.pick([0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff, int(r, 256)]);
      break;
    case 1:
      view.setUint32(1, r.pick(LENGTHS), false);
      break;
    case 2:
      view.setUint32(1, (view.getUint32(1, false) + int(r, 7) - 3) >>> 0, false);
      break;
    default:
      view.setUint32(1, r.u32(), false);
  }
}

function mutateBytes(r: Rng, bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const i = int(r, n);
  switch (int(r, 7)) {
    case 0:
      if (n) bytes[i]! ^= 1 << int(r, 8);
      return bytes;
    case 1:
      if (n) bytes[i] = r.pick([0x00, 0x01, 0x02, 0x22, 0x5b, 0x5c, 0x7b, 0x7d, 0x80, 0xc0, 0xed, 0xff, int(r, 256)]);
      return bytes;
    case 2:
      return concat([bytes.subarray(0, i), r.bytes(1 + int(r, 8)), bytes.subarray(i)]);
    case 3:
      return concat([bytes.subarray(0, i), bytes.subarray(i + 1 + int(r, 16))]);
    case 4: {
      const piece = bytes.slice(i, i + 1 + int(r, 64));
      const to = int(r, n + 1);
      return concat([bytes.subarray(0, to), piece, bytes.subarray(to)]);
    }
    case 5:
      return bytes.subarray(0, int(r, n + 1));
    default: {
      // Swap two regions' order: frames out of place.
      const j = int(r, n + 1);
      const [lo, hi] = i < j ? [i, j] : [j, i];
      return concat([bytes.subarray(hi), bytes.subarray(lo, hi), bytes.subarray(0, lo)]);
    }
  }
}

/** One mutated stream of 1–4 frames; returns it with the number of source frames. */
function mutatedStream(r: Rng, corpus: Sample[]): { bytes: Uint8Array; frames: number } {
  const count = 1 + int(r, 4);
  const frames: Uint8Array[] = [];
  let mutated = false;
  for (let k = 0; k < count; k++) {
    // The two limit-sized frames are the last two samples; keep them rare, they are large.
    const sample = chance(r, 0.01) ? corpus[corpus.length - 1 - int(r, 2)]! : corpus[int(r, corpus.length - 2)]!;
    let frame: Uint8Array | null = null;
    if (sample.message && chance(r, 0.35)) frame = mutateJson(r, sample.message);
    if (frame) mutated = true;
    else frame = new Uint8Array(sample.frame);
    if (chance(r, 0.25)) {
      mutateHeader(r, frame);
      mutated = true;
    }
    frames.push(frame);
  }
  let bytes = concat(frames);
  let rounds = chance(r, 0.45) ? 0 : 1 + int(r, 3);
  if (!mutated && rounds === 0) rounds = 1;
  for (; rounds > 0; rounds--) bytes = mutateBytes(r, bytes);
  return { bytes, frames: count };
}

/** `bytes` cut at up to 6 random points (as a socket might deliver it). */
function chunks(r: Rng, bytes: Uint8Array): Uint8Array[] {
  return split(bytes, Array.from({ length: int(r, 7) }, () => int(r, bytes.length + 1)));
}

// ---------------------------------------------------------------------------
// Running and counting

class Untyped extends Error {}

interface Fed {
  frames: Frame[];
  error: string | null;
  pending: number;
}

function feed(pieces: Uint8Array[]): Fed {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let failure: ProtocolError | null = null;
  for (const piece of pieces) {
    try {
      for (const f of decoder.push(piece)) {
        if ((f.kind !== CONTROL && f.kind !== DATA) || f.payload.length < 1 || f.payload.length > maxPayload(f.kind)) {
          throw new Untyped(`decoder produced a frame of kind ${f.kind} with ${f.payload.length} bytes`);
        }
        frames.push(f);
      }
    } catch (e) {
      if (e instanceof Untyped) throw e;
      if (!(e instanceof ProtocolError) || !(ERROR_CODE_LIST as string[]).includes(e.code)) throw new Untyped(`FrameDecoder.push() threw ${String(e)}`, { cause: e });
      if (e.code !== "BAD_FRAME" && e.code !== "FRAME_TOO_LARGE") throw new Untyped(`FrameDecoder.push() threw ${e.code}`);
      failure = e;
      break;
    }
  }
  if (failure) {
    if (decoder.pending > FRAME_HEADER_SIZE) throw new Untyped(`a failed decoder holds ${decoder.pending} bytes (P6)`);
    try {
      decoder.push(new Uint8Array(1));
    } catch (e) {
      if (e !== failure) throw new Untyped("the decoder failed differently on its next push");
      return { frames, error: failure.code, pending: decoder.pending };
    }
    throw new Untyped("the decoder did not stay failed");
  }
  if (decoder.pending >= FRAME_HEADER_SIZE + MAX_DATA_FRAME) throw new Untyped(`decoder holds ${decoder.pending} bytes`);
  return { frames, error: null, pending: decoder.pending };
}

function decodeOutcome(decode: (p: Uint8Array) => unknown, payload: Uint8Array): string {
  try {
    decode(payload);
    return "ok";
  } catch (e) {
    if (!(e instanceof ProtocolError) || !(ERROR_CODE_LIST as string[]).includes(e.code)) throw new Untyped(`${decode.name}() threw ${String(e)}`, { cause: e });
    if (e.code !== "BAD_MESSAGE" && e.code !== "UNKNOWN_MESSAGE") throw new Untyped(`${decode.name}() threw ${e.code}`);
    return e.code;
  }
}

function consistent(a: Fed, b: Fed): boolean {
  if (a.error !== b.error) return false;
  const n = Math.min(a.frames.length, b.frames.length);
  for (let i = 0; i < n; i++) {
    const x = a.frames[i]!;
    const y = b.frames[i]!;
    if (x.kind !== y.kind || !Buffer.from(x.payload).equals(Buffer.from(y.payload))) return false;
  }
  return a.error !== null || (a.frames.length === b.frames.length && a.pending === b.pending);
}

function args(): { frames: number; seed: number; start: number; count: number } {
  const get = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  return {
    frames: get("--frames") ?? 1_000_000,
    seed: get("--seed") ?? (Number(process.env.SIS_FUZZ_SEED) || 1),
    start: get("--start") ?? 0,
    count: get("--count") ?? Infinity,
  };
}

function main(): number {
  const opts = args();
  const corpus = buildCorpus();
  const counts = new Map<string, number>();
  const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const failures: string[] = [];
  let framesIn = 0;
  let streams = 0;
  let bytesIn = 0;
  const started = performance.now();

  for (let index = opts.start; framesIn < opts.frames && streams < opts.count; index++) {
    const r = seededStream(opts.seed, index);
    const { bytes, frames } = mutatedStream(r, corpus);
    framesIn += frames;
    bytesIn += bytes.length;
    streams++;
    try {
      const fed = feed(chunks(r, bytes));
      if (!consistent(fed, feed([bytes]))) throw new Untyped("the chunking changed the decoded frames or the error");
      bump(`stream: ${fed.error ?? (fed.pending === 0 ? "complete" : "incomplete (bytes pending)")}`);
      for (const f of fed.frames) {
        bump(`frame out: ${f.kind === CONTROL ? "control" : "data"}`);
        if (f.kind !== CONTROL) continue;
        bump(`client decode: ${decodeOutcome(decodeClientMessage, f.payload)}`);
        bump(`server decode: ${decodeOutcome(decodeServerMessage, f.payload)}`);
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      bump("UNTYPED / invariant broken");
      if (failures.length < 10) failures.push(`seed ${opts.seed} stream ${index}: ${why}\n  stream (first 256 bytes): ${Buffer.from(bytes.subarray(0, 256)).toString("hex")}`);
    }
  }

  const seconds = (performance.now() - started) / 1000;
  const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(...rows.map(([k]) => k.length), 24);
  console.log(`fuzz-frames: seed ${opts.seed}, streams ${opts.start}..${opts.start + streams - 1}`);
  console.log(`${"outcome".padEnd(width)}  ${"count".padStart(10)}`);
  console.log(`${"-".repeat(width)}  ${"-".repeat(10)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v.toLocaleString("en-US").padStart(10)}`);
  console.log(`${"-".repeat(width)}  ${"-".repeat(10)}`);
  console.log(`${"mutated streams".padEnd(width)}  ${streams.toLocaleString("en-US").padStart(10)}`);
  console.log(`${"frames in (total)".padEnd(width)}  ${framesIn.toLocaleString("en-US").padStart(10)}`);
  console.log(`${"bytes in".padEnd(width)}  ${bytesIn.toLocaleString("en-US").padStart(10)}`);
  console.log(`time ${seconds.toFixed(1)} s, ${Math.round(framesIn / seconds).toLocaleString("en-US")} frames/s`);

  if (failures.length > 0) {
    for (const f of failures) console.error(`sis: ${f}`);
    console.error(`sis: ${counts.get("UNTYPED / invariant broken")} stream(s) broke an invariant; rerun one with --seed S --start I --count 1`);
    return 1;
  }
  console.log("only typed ProtocolErrors occurred");
  return 0;
}

process.exit(main());
