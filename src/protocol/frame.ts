/** Frame layout (PROTOCOL.md section 2): kind (1) | length u32 BE (4) | payload. */
import { ProtocolError } from "./errors.ts";
import { FRAME_HEADER_SIZE, MAX_CONTROL_FRAME, MAX_DATA_FRAME } from "./limits.ts";

export const CONTROL = 0x01;
export const DATA = 0x02;
/**
 * Version 3, server to client only (P41): one piece of a cut-through delivery, its delivery
 * number (u32 BE) then ciphertext. Only a decoder made with `pushData` accepts it: a server
 * refuses it from a client (BAD_FRAME) exactly as before version 3.
 */
export const PUSH_DATA = 0x03;
/** Bytes before the ciphertext in a PUSH_DATA payload: the delivery number. */
export const PUSH_DATA_PREFIX = 4;
export type FrameKind = typeof CONTROL | typeof DATA | typeof PUSH_DATA;

export interface Frame {
  kind: FrameKind;
  payload: Uint8Array;
}

export function maxPayload(kind: number, pushData = false): number {
  if (kind === CONTROL) return MAX_CONTROL_FRAME;
  if (kind === DATA) return MAX_DATA_FRAME;
  if (kind === PUSH_DATA && pushData) return MAX_DATA_FRAME + PUSH_DATA_PREFIX;
  return 0;
}

/** The bytes of the largest PUSH_DATA frame: a buffer this long holds any of them (encodePushData's `into`). */
export const MAX_PUSH_DATA_FRAME = FRAME_HEADER_SIZE + PUSH_DATA_PREFIX + MAX_DATA_FRAME;

/**
 * A PUSH_DATA frame (P41): the delivery number, then a copy of `ciphertext` (1..MAX_DATA_FRAME
 * bytes), the one copy made straight into the frame; into `into` (MAX_PUSH_DATA_FRAME bytes, reused) if given.
 */
export function encodePushData(delivery: number, ciphertext: Uint8Array, into?: Uint8Array): Uint8Array {
  if (ciphertext.length === 0 || ciphertext.length > MAX_DATA_FRAME) throw new RangeError(`push data of ${ciphertext.length} bytes is outside 1..${MAX_DATA_FRAME}`);
  const length = PUSH_DATA_PREFIX + ciphertext.length;
  const frame = (into ?? new Uint8Array(MAX_PUSH_DATA_FRAME)).subarray(0, FRAME_HEADER_SIZE + length);
  const view = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_SIZE + PUSH_DATA_PREFIX);
  frame[0] = PUSH_DATA;
  view.setUint32(1, length, false);
  view.setUint32(FRAME_HEADER_SIZE, delivery, false);
  frame.set(ciphertext, FRAME_HEADER_SIZE + PUSH_DATA_PREFIX);
  return frame;
}

/** Encodes one frame; refuses payloads the receiver would refuse (P6). */
export function encodeFrame(kind: FrameKind, payload: Uint8Array): Uint8Array {
  if (payload.length === 0 || payload.length > maxPayload(kind, true)) {
    throw new RangeError(`frame payload of ${payload.length} bytes is outside 1..${maxPayload(kind, true)}`);
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, payload.length, false);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

export interface FrameDecoderOptions {
  /**
   * The caller hands over each chunk for good: it never writes to it or reuses
   * its memory after push(). Payloads that lie wholly inside one chunk are then
   * returned as views of it instead of copies; only a frame split across
   * chunks is copied. Bun's socket `data` callback gives such chunks (a fresh
   * buffer per callback, never reused: test/runtime/socket-data.test.ts). A view
   * keeps the whole chunk alive until the payload is dropped.
   */
  ownsChunks?: boolean;
  /**
   * Where a payload is copied, called once its length passed the checks (P6): a buffer of
   * exactly `length` bytes (from a pool, say), or null for the default (a view when
   * `ownsChunks`, else a fresh array). A payload it provides is always a copy.
   */
  allocate?: (kind: FrameKind, length: number) => Uint8Array | null;
  /**
   * With `ownsChunks`: the chunk's memory is handed over too. A chunk that is wholly its
   * own ArrayBuffer and that no returned payload views (every payload of it was copied,
   * by `allocate` or as part of a split frame) is detached once push() is done with it
   * (ArrayBuffer.prototype.transfer(0)), which frees it at once: JavaScriptCore frees the
   * garbage of large ArrayBuffers late, and a socket's chunks are up to ~512 KiB each.
   */
  releaseChunks?: boolean;
  /** Accept PUSH_DATA frames (P41): a client's decoder only. */
  pushData?: boolean;
}

/**
 * Makes `frame` a frame in place: its first FRAME_HEADER_SIZE bytes get the header of
 * the payload that fills the rest (a sender that reserved the room, such as
 * sealStreamWithHeadroom, so the payload is not copied). Same limits as encodeFrame (P6).
 */
export function encodeFrameInPlace(kind: FrameKind, frame: Uint8Array): Uint8Array {
  const length = frame.length - FRAME_HEADER_SIZE;
  if (length <= 0 || length > maxPayload(kind)) {
    throw new RangeError(`frame payload of ${Math.max(0, length)} bytes is outside 1..${maxPayload(kind)}`);
  }
  frame[0] = kind;
  new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_SIZE).setUint32(1, length, false);
  return frame;
}

/**
 * Incremental decoder: feed it whatever the socket delivers, get whole frames.
 * It reads the 5-byte header, checks kind and length against the limits and
 * only then allocates the payload (P6), so a hostile length costs nothing.
 * It holds at most one partial frame. After an error it stays failed.
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly ownsChunks: boolean;
  private readonly releaseChunks: boolean;
  private readonly pushData: boolean;
  private readonly allocate: (kind: FrameKind, length: number) => Uint8Array | null;
  private headerFill = 0;
  private kind: FrameKind = CONTROL;
  /** Length of the frame whose header was read (0: reading a header). */
  private length = 0;
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  private failed: ProtocolError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.ownsChunks = options.ownsChunks ?? false;
    this.releaseChunks = this.ownsChunks && (options.releaseChunks ?? false);
    this.allocate = options.allocate ?? (() => null);
    this.pushData = options.pushData ?? false;
  }

  /** Bytes of a frame received so far and not yet returned. */
  get pending(): number {
    return this.headerFill + this.payloadFill;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.failed) throw this.failed;
    const frames: Frame[] = [];
    let viewed = false;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.length === 0) {
        const take = Math.min(FRAME_HEADER_SIZE - this.headerFill, chunk.length - offset);
        for (let i = 0; i < take; i++) this.header[this.headerFill + i] = chunk[offset + i]!;
        this.headerFill += take;
        offset += take;
        if (this.headerFill < FRAME_HEADER_SIZE) break;
        this.startPayload();
      }
      const length = this.length;
      if (this.payloadFill === 0 && chunk.length - offset >= length) {
        // The whole payload is in this chunk: a view if the chunk is ours to keep, else one copy
        // (new Uint8Array(view), not slice(): Buffer#slice is a view).
        const view = chunk.subarray(offset, offset + length);
        const into = this.allocate(this.kind, length);
        if (into) into.set(view);
        else if (this.ownsChunks) viewed = true;
        frames.push({ kind: this.kind, payload: into ?? (this.ownsChunks ? view : new Uint8Array(view)) });
        offset += length;
        this.endFrame();
        continue;
      }
      // A payload split across chunks: allocated now that its length passed the checks (P6).
      const payload = (this.payload ??= this.allocate(this.kind, length) ?? new Uint8Array(length));
      const take = Math.min(length - this.payloadFill, chunk.length - offset);
      payload.set(chunk.subarray(offset, offset + take), this.payloadFill);
      this.payloadFill += take;
      offset += take;
      if (this.payloadFill === length) {
        frames.push({ kind: this.kind, payload });
        this.endFrame();
      }
    }
    // `.buffer` only when it may be released: reading it makes an ArrayBuffer object for the
    // socket's chunk, a cost on every small frame (a push to thousands of watching connections).
    if (this.releaseChunks && !viewed && chunk.byteOffset === 0) {
      const buffer = chunk.buffer;
      if (buffer.byteLength === chunk.length && buffer instanceof ArrayBuffer && !buffer.resizable) buffer.transfer(0);
    }
    return frames;
  }

  private endFrame(): void {
    this.payload = null;
    this.payloadFill = 0;
    this.headerFill = 0;
    this.length = 0;
  }

  private startPayload(): void {
    const kind = this.header[0]!;
    const length = this.headerView.getUint32(1, false);
    const limit = maxPayload(kind, this.pushData);
    if (limit === 0) return this.fail(new ProtocolError("BAD_FRAME", `unknown frame kind 0x${kind.toString(16).padStart(2, "0")}`));
    if (length === 0) return this.fail(new ProtocolError("BAD_FRAME", "empty frame"));
    if (length > limit) return this.fail(new ProtocolError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the limit of ${limit}`));
    this.kind = kind as FrameKind;
    this.length = length;
  }

  private fail(error: ProtocolError): never {
    this.failed = error;
    throw error;
  }
}
