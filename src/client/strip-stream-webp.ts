/** WebP, streamed in two passes: the first learns the output's size for the RIFF header, the second writes it. */
import { noteDropped, StripError } from "./strip-metadata-bytes.ts";
import {
  checkWebpChunk, keptData, RIFF_HEADER, RIFF_PAYLOAD, riffEnd, WEBP_AFTER_END, WEBP_CHUNK_HEADER, webpChunkHeader, webpDropName, withRiffSize,
} from "./strip-metadata-webp.ts";
import { ByteReader, readWith } from "./strip-stream-reader.ts";

/**
 * The RIFF header at the start of the output holds the output's size, known only once every chunk
 * has been judged; holding the output back would hold the image. So the source is read twice, and
 * the second pass must make the same decisions as the first, or it throws rather than write a
 * header that does not match what follows it.
 */
export async function* streamWebp(source: () => AsyncIterable<Uint8Array>, removed: string[]): AsyncGenerator<Uint8Array> {
  const total = await measure(source(), removed);
  const again: string[] = [];
  let written = 0;
  for await (const piece of readWith(source(), (r) => walkWebp(r, again, total))) {
    written += piece.length;
    yield piece;
  }
  if (written !== total || again.join("\n") !== removed.join("\n")) {
    throw new StripError("webp: the image changed between the two passes over it");
  }
}

/** The first pass: the output's size, every check of stripWebp made on the way. */
async function measure(source: AsyncIterable<Uint8Array>, removed: string[]): Promise<number> {
  const r = new ByteReader(source);
  try {
    let total = 0;
    for await (const piece of walkWebp(r, removed, null)) total += piece.length;
    return total;
  } catch (error) {
    // stripWebp refuses a file shorter than its RIFF size before it reads any chunk; a failed walk
    // finds out whether that is why, so both name the same fault.
    if (error instanceof StripError && Number.isFinite(r.limit) && !(await r.reaches(r.limit))) {
      throw new StripError(`${RIFF_PAYLOAD}: truncated`);
    }
    throw error;
  } finally {
    await r.close();
  }
}

/** The same walk as stripWebp; the RIFF size is written as `total` (left as it is on the first pass, null). */
async function* walkWebp(r: ByteReader, removed: string[], total: number | null): AsyncGenerator<Uint8Array> {
  const head = await r.read(RIFF_HEADER);
  const end = riffEnd(head);
  r.limit = end; // no chunk can reach into bytes after the RIFF payload
  yield total === null ? head : withRiffSize(head, total);
  if (r.offset === end) throw new StripError("webp: no chunks");
  for (let first = true; r.offset < end; first = false) {
    const pos = r.offset;
    const chunkHead = await r.read(WEBP_CHUNK_HEADER);
    const header = webpChunkHeader(chunkHead, pos);
    const name = webpDropName(header.fourcc);
    if (!name) yield chunkHead;
    let at = 0;
    for await (const piece of r.pass(header.padded, header.what)) {
      if (!name) yield keptData(header.fourcc, piece, at);
      at += piece.length;
    }
    checkWebpChunk(header, first);
    if (name) noteDropped(removed, name);
  }
  r.limit = Number.POSITIVE_INFINITY;
  if (!(await r.atEnd())) noteDropped(removed, WEBP_AFTER_END);
}
