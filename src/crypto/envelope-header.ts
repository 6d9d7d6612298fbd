/** The envelope header (ENVELOPE.md section 2): constants, strict codec, and cipherSize. */
import { randomBytes } from "node:crypto";
import { EnvelopeError } from "./envelope-error.ts";
import { ENVELOPE_MAGIC } from "./labels.ts";
import {
  CONTENT_TYPE_MAX_BYTES,
  NAME_MAX_BYTES,
  OWNER_MAX_BYTES,
  decodeUtf8Strict,
  encodeUtf8Strict,
  fieldsProblem,
} from "./text-fields.ts";

export { ENVELOPE_MAGIC };
export const ENVELOPE_VERSION = 1;
export const CHUNK_SIZE_LOG2 = 16;
export const CHUNK_SIZE = 1 << CHUNK_SIZE_LOG2;
export const TAG_SIZE = 16;
export const NONCE_PREFIX_SIZE = 7;
/** 2^48 bytes: at most 2^32 chunks, so the u32 chunk counter cannot wrap (H4). */
export const MAX_PLAINTEXT_SIZE = 2 ** 48;

const FIXED_SIZE = ENVELOPE_MAGIC.length + 1 + 1 + NONCE_PREFIX_SIZE + 8; // 23
const SIZE_OFFSET = FIXED_SIZE - 8;
export const MIN_HEADER_SIZE = FIXED_SIZE + 3 * 2;
export const MAX_HEADER_SIZE = FIXED_SIZE + 3 + OWNER_MAX_BYTES + NAME_MAX_BYTES + CONTENT_TYPE_MAX_BYTES; // 409

export interface EnvelopeHeader {
  owner: string;
  name: string;
  contentType: string;
  /** Plaintext size in bytes. */
  size: number;
  /** NONCE_PREFIX_SIZE random bytes. */
  noncePrefix: Uint8Array;
}

function bad(message: string): never {
  throw new EnvelopeError("BAD_HEADER", `envelope header: ${message}`);
}

function sizeProblem(size: number): string | null {
  if (!Number.isSafeInteger(size) || size < 0) return "size is not a non-negative integer";
  if (size > MAX_PLAINTEXT_SIZE) return "size exceeds 2^48 bytes";
  return null;
}

/** Encodes a header; refuses anything decodeHeader would refuse (H9). */
export function encodeHeader(h: EnvelopeHeader): Uint8Array {
  const problem = fieldsProblem(h.owner, h.name, h.contentType) ?? sizeProblem(h.size);
  if (problem !== null) bad(problem);
  if (h.noncePrefix.length !== NONCE_PREFIX_SIZE) bad("nonce prefix is not 7 bytes");
  const owner = encodeUtf8Strict(h.owner)!;
  const name = encodeUtf8Strict(h.name)!;
  const contentType = encodeUtf8Strict(h.contentType)!; // printable ASCII: one byte per char
  const out = new Uint8Array(FIXED_SIZE + 3 + owner.length + name.length + contentType.length);
  const view = new DataView(out.buffer);
  out.set(ENVELOPE_MAGIC, 0);
  out[ENVELOPE_MAGIC.length] = ENVELOPE_VERSION;
  out[ENVELOPE_MAGIC.length + 1] = CHUNK_SIZE_LOG2;
  out.set(h.noncePrefix, ENVELOPE_MAGIC.length + 2);
  view.setBigUint64(SIZE_OFFSET, BigInt(h.size));
  let at = FIXED_SIZE;
  for (const field of [owner, name, contentType]) {
    out[at] = field.length;
    out.set(field, at + 1);
    at += 1 + field.length;
  }
  return out;
}

/** Decodes a header strictly: exact length, known version, every limit (H1..H7); throws BAD_HEADER. */
export function decodeHeader(bytes: Uint8Array): EnvelopeHeader {
  if (bytes.length < MIN_HEADER_SIZE || bytes.length > MAX_HEADER_SIZE) bad("length out of range");
  for (let i = 0; i < ENVELOPE_MAGIC.length; i++) if (bytes[i] !== ENVELOPE_MAGIC[i]) bad("bad magic");
  if (bytes[ENVELOPE_MAGIC.length] !== ENVELOPE_VERSION) bad("unknown version");
  if (bytes[ENVELOPE_MAGIC.length + 1] !== CHUNK_SIZE_LOG2) bad("unsupported chunk size");
  const noncePrefix = bytes.slice(ENVELOPE_MAGIC.length + 2, SIZE_OFFSET);
  const size64 = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(SIZE_OFFSET);
  if (size64 > BigInt(MAX_PLAINTEXT_SIZE)) bad("size exceeds 2^48 bytes");
  const size = Number(size64);
  const fields: string[] = [];
  let at = FIXED_SIZE;
  for (let f = 0; f < 3; f++) {
    const length = bytes[at];
    if (length === undefined || at + 1 + length > bytes.length) bad("field runs past the end");
    const text = decodeUtf8Strict(bytes.subarray(at + 1, at + 1 + length));
    if (text === null) bad("field is not valid UTF-8");
    fields.push(text);
    at += 1 + length;
  }
  if (at !== bytes.length) bad("trailing bytes after the content type");
  const [owner = "", name = "", contentType = ""] = fields;
  const problem = fieldsProblem(owner, name, contentType);
  if (problem !== null) bad(problem);
  return { owner, name, contentType, size, noncePrefix };
}

/** A header with a fresh random nonce prefix (H10). */
export function newHeader(fields: Omit<EnvelopeHeader, "noncePrefix">): EnvelopeHeader {
  return { ...fields, noncePrefix: new Uint8Array(randomBytes(NONCE_PREFIX_SIZE)) };
}

/** Number of chunks for a plaintext size: max(1, ceil(size / CHUNK_SIZE)) (S1). */
export function chunkCount(plainSize: number): number {
  return Math.max(1, Math.ceil(plainSize / CHUNK_SIZE));
}

/** Exact ciphertext size for a plaintext size (S4). */
export function cipherSize(plainSize: number): number {
  const problem = sizeProblem(plainSize);
  if (problem !== null) throw new RangeError(`cipherSize: ${problem}`);
  return plainSize + chunkCount(plainSize) * TAG_SIZE;
}
