/** Streams a stored blob as data frames read straight from disk into reusable frame buffers. */
import { DATA, FRAME_HEADER_SIZE, MAX_DATA_FRAME } from "../protocol/index.ts";
import type { BlobReader } from "./ports.ts";

/** Bytes queued for the peer before we read more: keeps the socket busy and memory per download bounded. */
export const SEND_BACKLOG = 1024 * 1024;

/** What sendBlob needs of a session: the outbox and a way to hand it whole frames. */
export interface FrameSink {
  readonly closed: boolean;
  /** Bytes handed over but not yet taken by the socket (Outbox.backlog). */
  readonly backlog: number;
  sendFrame(frame: Uint8Array): void;
  below(limit: number): Promise<void>;
}

/**
 * Sends `size` bytes of `reader` as data frames of at most MAX_DATA_FRAME.
 * Each frame is one buffer: the 5-byte header is reserved in front and the
 * file is read into the rest, so nothing is copied into a frame and nothing
 * is allocated per chunk. Returns the bytes sent; fewer than `size` means the
 * blob is short. A trailing byte past `size` is reported as `extra`.
 *
 * Buffer lifetime: a buffer handed to the sink may be held by the outbox
 * (the part the socket did not take yet). The outbox is FIFO, so a frame is
 * released once the backlog fits within the bytes we queued after it; only
 * then does its buffer go back to `free`. Frames queued by others meanwhile
 * (pushes, other replies) only make that test more conservative.
 */
export async function sendBlob(sink: FrameSink, reader: BlobReader, size: number, maxBacklog = SEND_BACKLOG): Promise<{ sent: number; extra: boolean }> {
  const free: Uint8Array[] = [];
  const held: { frame: Uint8Array; end: number }[] = [];
  let queued = 0;
  let sent = 0;
  while (sent < size) {
    const frame = free.pop() ?? new Uint8Array(FRAME_HEADER_SIZE + MAX_DATA_FRAME);
    const want = Math.min(MAX_DATA_FRAME, size - sent);
    const n = await reader.readInto(frame.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + want));
    if (n === 0 || sink.closed) return { sent, extra: false };
    frame[0] = DATA;
    frame[1] = n >>> 24;
    frame[2] = (n >>> 16) & 0xff;
    frame[3] = (n >>> 8) & 0xff;
    frame[4] = n & 0xff;
    sink.sendFrame(n === MAX_DATA_FRAME ? frame : frame.subarray(0, FRAME_HEADER_SIZE + n));
    sent += n;
    queued += FRAME_HEADER_SIZE + n;
    held.push({ frame, end: queued });
    if (sink.backlog > maxBacklog) await sink.below(maxBacklog);
    while (held.length > 0 && sink.backlog <= queued - held[0]!.end) free.push(held.shift()!.frame);
  }
  // The record says `size`; a longer file is damaged too.
  const probe = free.pop() ?? new Uint8Array(1);
  const extra = (await reader.readInto(probe.subarray(0, 1))) > 0;
  return { sent, extra };
}
