/** JPEG, streamed: marker segments (at most 64 KiB each) read whole, entropy-coded scans passed through. */
import { concat, need, noteDropped, StripError } from "./strip-metadata-bytes.ts";
import {
  checkEnd, checkMarkerStart, checkSoi, EOI, isScanData, JPEG_AFTER_END, JPEG_UNENDED_SCAN, newJpegState, scanDataEnd, segmentHeader, segmentVerdict, SOS,
} from "./strip-metadata-jpeg.ts";
import type { ByteReader } from "./strip-stream-reader.ts";

/** The same walk as stripJpeg, in the same order of checks, holding at most one segment. */
export async function* walkJpeg(r: ByteReader, removed: string[]): AsyncGenerator<Uint8Array> {
  const soi = await r.read(2);
  checkSoi(soi);
  yield soi;
  const state = newJpegState();
  for (;;) {
    let pos = r.offset;
    let m = await r.read(2);
    checkMarkerStart(m, pos);
    if (m[1] === 0xff) {
      // Fill bytes before a marker (T.81 B.1.1.2) are dropped: the marker is the byte after the last 0xFF.
      pos += 1 + (await skipFill(r));
      m = concat([Uint8Array.of(0xff), await r.read(1)]);
    }
    need(m, 0, 2, "jpeg: marker");
    if (m[1] === EOI) {
      checkEnd(state);
      yield m;
      if (!(await r.atEnd())) noteDropped(removed, JPEG_AFTER_END);
      return;
    }
    const head = concat([m, await r.read(2)]);
    const { length, what } = segmentHeader(head, pos);
    const seg = concat([head, await r.readExact(length - 2, what)]);
    const name = segmentVerdict(state, seg);
    if (name) noteDropped(removed, name);
    else yield seg;
    if (m[1] === SOS) yield* scan(r, state.jpegLs);
  }
}

/** Consumes a run of 0xFF bytes and says how long it was. */
async function skipFill(r: ByteReader): Promise<number> {
  let run = 0;
  for (let view = await r.peek(); view; view = await r.peek()) {
    let n = 0;
    while (n < view.length && view[n] === 0xff) n += 1;
    r.consume(n);
    run += n;
    if (n < view.length) break;
  }
  return run;
}

/**
 * Passes entropy-coded data through up to the marker that ends it, leaving the reader on that marker.
 * A 0xFF that ends a source chunk is held back until the next chunk's first byte tells what it is.
 */
async function* scan(r: ByteReader, jpegLs: boolean): AsyncGenerator<Uint8Array> {
  let heldFF = false;
  for (;;) {
    const view = await r.peek();
    if (!view) throw new StripError(JPEG_UNENDED_SCAN);
    if (heldFF) {
      if (!isScanData(view[0]!, jpegLs)) {
        r.unread(Uint8Array.of(0xff));
        return;
      }
      heldFF = false;
      yield Uint8Array.of(0xff);
    }
    const end = scanDataEnd(view, 0, jpegLs);
    const marker = end < view.length - 1;
    heldFF = end === view.length - 1;
    r.consume(heldFF ? end + 1 : end);
    if (end > 0) yield view.subarray(0, end);
    if (marker) return;
  }
}
