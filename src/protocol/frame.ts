/** Frame layout (PROTOCOL.md section 2): kind (1) | length u32 BE (4) | payload. */
import { ProtocolError } from "./errors.ts";
import { FRAME_HEADER_SIZE, MAX_CONTROL_FRAME, MAX_DATA_FRAME } from "./limits.ts";

export const CONTROL = 0x01;
export const DATA = 0x02;
export type FrameKind = typeof CONTROL | typeof DATA;

export interface Frame {
  kind: FrameKind;
  payload: Uint8Array;
}

export function maxPayload(kind: number): number {
  if (kind === CONTROL) return MAX_CONTROL_FRAME;
  if (kind === DATA) return MAX_DATA_FRAME;
  return 0;
}

/** Encodes one frame; refuses payloads the receiver would refuse (P6). */
export function encodeFrame(kind: FrameKind, payload: Uint8Array): Uint8Array {
  if (payload.length === 0 || payload.length > maxPayload(kind)) {
    throw new RangeError(`frame payload of ${payload.length} bytes is outside 1..${maxPayload(kind)}`);
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, payload.length, false);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/**
 * Incremental decoder: feed it whatever the socket delivers, get whole frames.
 * It reads the 5-byte header, checks kind and length against the limits and
 * only then allocates the payload (P6), so a hostile length costs nothing.
 * It holds at most one partial frame. After an error it stays failed.
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_SIZE);
  private headerFill = 0;
  private kind: FrameKind = CONTROL;
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  private failed: ProtocolError | null = null;

  /** Bytes of a frame received so far and not yet returned. */
  get pending(): number {
    return this.headerFill + this.payloadFill;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.failed) throw this.failed;
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payload === null) {
        const take = Math.min(FRAME_HEADER_SIZE - this.headerFill, chunk.length - offset);
        this.header.set(chunk.subarray(offset, offset + take), this.headerFill);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < FRAME_HEADER_SIZE) break;
        this.startPayload();
      }
      const payload = this.payload!;
      const take = Math.min(payload.length - this.payloadFill, chunk.length - offset);
      payload.set(chunk.subarray(offset, offset + take), this.payloadFill);
      this.payloadFill += take;
      offset += take;
      if (this.payloadFill === payload.length) {
        frames.push({ kind: this.kind, payload });
        this.payload = null;
        this.payloadFill = 0;
        this.headerFill = 0;
      }
    }
    return frames;
  }

  private startPayload(): void {
    const kind = this.header[0]!;
    const length = new DataView(this.header.buffer).getUint32(1, false);
    const limit = maxPayload(kind);
    if (limit === 0) return this.fail(new ProtocolError("BAD_FRAME", `unknown frame kind 0x${kind.toString(16).padStart(2, "0")}`));
    if (length === 0) return this.fail(new ProtocolError("BAD_FRAME", "empty frame"));
    if (length > limit) return this.fail(new ProtocolError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the limit of ${limit}`));
    this.kind = kind as FrameKind;
    this.payload = new Uint8Array(length);
  }

  private fail(error: ProtocolError): never {
    this.failed = error;
    throw error;
  }
}
