/** The chunked STREAM encryption of an image (ENVELOPE.md section 3): seal, open, content keys. */
import { randomBytes } from "node:crypto";
import { noncePrefixed, openChunk, release, sealChunk, setNonce } from "./envelope-chunk.ts";
import { EnvelopeError, type EnvelopeErrorCode } from "./envelope-error.ts";
import {
  CHUNK_SIZE,
  TAG_SIZE,
  chunkCount,
  decodeHeader,
  encodeHeader,
  type EnvelopeHeader,
} from "./envelope-header.ts";

export { EnvelopeError, type EnvelopeErrorCode };

export const CONTENT_KEY_SIZE = 32;

/** A fresh 32-byte content key from the CSPRNG (K1). */
export function generateContentKey(): Uint8Array {
  return new Uint8Array(randomBytes(CONTENT_KEY_SIZE));
}

function fail(code: EnvelopeErrorCode, message: string): never {
  throw new EnvelopeError(code, message);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== CONTENT_KEY_SIZE) fail("BAD_KEY", "content key is not 32 bytes");
}

/**
 * Encrypts `plaintext` (pieces of any size) under `header`; yields one sealed chunk
 * (≤ CHUNK_SIZE + TAG_SIZE bytes) at a time, each in a fresh buffer the caller may keep.
 * Throws SIZE_MISMATCH if the plaintext is not exactly header.size bytes (S5).
 */
export function sealStream(key: Uint8Array, header: EnvelopeHeader, plaintext: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return sealStreamWithHeadroom(key, header, plaintext, 0);
}

/**
 * sealStream, but each sealed chunk is yielded `headroom` bytes into a fresh buffer whose
 * first `headroom` bytes the caller fills (a frame header), so it is sent without a copy.
 * The sealed bytes are exactly sealStream's (the headroom is not part of the envelope).
 */
export async function* sealStreamWithHeadroom(
  key: Uint8Array,
  header: EnvelopeHeader,
  plaintext: AsyncIterable<Uint8Array>,
  headroom: number,
): AsyncGenerator<Uint8Array> {
  let frame = new Uint8Array(0);
  const take = (length: number) => {
    frame = Buffer.allocUnsafe(headroom + length); // fully overwritten: the headroom here, the rest by the seal
    frame.fill(0, 0, headroom); // the caller's; zeroed so stale memory never goes out unfilled
    return frame.subarray(headroom);
  };
  for await (const _ of sealStreamInto(key, header, plaintext, take)) yield frame;
}

/**
 * The stream sealStream makes, each sealed chunk written into a buffer the caller owns:
 * `take(length)` gives exactly `length` bytes (length ≤ CHUNK_SIZE + TAG_SIZE), the chunk
 * is sealed into them and that same array is yielded. The buffer is the caller's again
 * once yielded; no buffer is allocated per chunk here, so a caller that reuses its
 * buffers seals any size in bounded memory.
 */
export async function* sealStreamInto(
  key: Uint8Array,
  header: EnvelopeHeader,
  plaintext: AsyncIterable<Uint8Array>,
  take: (length: number) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  checkKey(key);
  const aad = encodeHeader(header);
  const n = chunkCount(header.size);
  const nonce = noncePrefixed(header.noncePrefix);
  const buffer = new Uint8Array(CHUNK_SIZE);
  const seal = (plain: Uint8Array) => {
    const out = take(plain.length + TAG_SIZE);
    if (out.length !== plain.length + TAG_SIZE) throw new RangeError(`take(${plain.length + TAG_SIZE}) gave ${out.length} bytes`);
    sealChunk(key, nonce, aad, plain, out);
    return out;
  };
  let fill = 0;
  let index = 0;
  let total = 0;
  for await (const piece of plaintext) {
    total += piece.length;
    if (total > header.size) fail("SIZE_MISMATCH", "plaintext is longer than the header's size");
    let at = 0;
    while (at < piece.length) {
      // Only non-final chunks are sealed here; the final one waits for the end of the source.
      if (fill === 0 && index < n - 1 && piece.length - at >= CHUNK_SIZE) {
        setNonce(nonce, index++, false);
        yield seal(piece.subarray(at, at + CHUNK_SIZE)); // no copy
        at += CHUNK_SIZE;
        continue;
      }
      const count = Math.min(CHUNK_SIZE - fill, piece.length - at);
      buffer.set(piece.subarray(at, at + count), fill);
      fill += count;
      at += count;
      if (fill === CHUNK_SIZE && index < n - 1) {
        setNonce(nonce, index++, false);
        yield seal(buffer);
        fill = 0;
      }
    }
  }
  if (total !== header.size) fail("SIZE_MISMATCH", "plaintext is shorter than the header's size");
  setNonce(nonce, index, true);
  yield seal(buffer.subarray(0, fill));
}

/**
 * Decrypts and authenticates a chunk stream (pieces of any size); yields plaintext
 * pieces of at most CHUNK_SIZE bytes, each in a fresh buffer the caller may keep.
 * Output is only trustworthy once the generator has finished without error (R7).
 */
export function openStream(key: Uint8Array, headerBytes: Uint8Array, ciphertext: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return openChunks(key, headerBytes, ciphertext, (plain) => plain);
}

/**
 * openStream, each plaintext piece written into `into` (at least CHUNK_SIZE bytes, the
 * caller's): a yielded piece is a view of it, valid until the next one is asked for.
 * Nothing is allocated per chunk here, so a consumer that is done with each piece before
 * it pulls again (hashes it, copies it to a file) opens any size in bounded memory.
 */
export function openStreamInto(key: Uint8Array, headerBytes: Uint8Array, ciphertext: AsyncIterable<Uint8Array>, into: Uint8Array): AsyncGenerator<Uint8Array> {
  if (into.length < CHUNK_SIZE) throw new RangeError(`openStreamInto needs a buffer of at least ${CHUNK_SIZE} bytes`);
  return openChunks(key, headerBytes, ciphertext, (plain) => {
    // Only one piece is ever pending: a non-final one is yielded before the next chunk is
    // opened, and the final one is the last to be opened (R5), so one buffer is enough.
    const piece = into.subarray(0, plain.length);
    piece.set(plain);
    release(plain); // detached: its length reads 0 from here on
    return piece;
  });
}

/** The open loop; `place` turns each authenticated plaintext into the piece to yield. */
async function* openChunks(
  key: Uint8Array,
  headerBytes: Uint8Array,
  ciphertext: AsyncIterable<Uint8Array>,
  place: (plain: Uint8Array) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  const header = decodeHeader(headerBytes);
  checkKey(key);
  const aad = headerBytes.slice(); // canonical (H8); copied so a caller cannot change it mid-stream
  // The layout comes from the size, which every chunk authenticates through the AAD (R2).
  const n = chunkCount(header.size);
  const finalSealed = header.size - (n - 1) * CHUNK_SIZE + TAG_SIZE;
  const nonce = noncePrefixed(header.noncePrefix);
  const buffer = new Uint8Array(CHUNK_SIZE + TAG_SIZE);
  let fill = 0;
  let index = 0;
  let released = 0;
  let finalPlain: Uint8Array | null = null;
  for await (const piece of ciphertext) {
    let at = 0;
    while (at < piece.length) {
      if (finalPlain !== null) fail("TRAILING_DATA", "data follows the final chunk");
      const last = index === n - 1;
      const expected = last ? finalSealed : CHUNK_SIZE + TAG_SIZE;
      let sealed: Uint8Array | null = null;
      if (fill === 0 && piece.length - at >= expected) {
        sealed = piece.subarray(at, at + expected); // no copy
        at += expected;
      } else {
        const take = Math.min(expected - fill, piece.length - at);
        buffer.set(piece.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === expected) {
          sealed = buffer.subarray(0, fill);
          fill = 0;
        }
      }
      if (sealed === null) continue;
      setNonce(nonce, index, last);
      const plain = place(openChunk(key, nonce, aad, sealed, index));
      index++;
      if (last) {
        finalPlain = plain; // released only once the source has ended (R5)
      } else {
        released += plain.length;
        yield plain;
      }
    }
  }
  if (finalPlain === null) fail("TRUNCATED", `ciphertext ends before the final chunk (chunk ${index} of ${n})`);
  released += finalPlain.length;
  if (released !== header.size) fail("SIZE_MISMATCH", "plaintext size differs from the header's size");
  if (finalPlain.length > 0) yield finalPlain;
}
