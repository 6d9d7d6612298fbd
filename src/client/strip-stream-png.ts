/** PNG, streamed: chunk by chunk, each chunk's data passed through as it arrives and its CRC checked on the way. */
import { crc32 } from "node:zlib";
import { hasPrefix, noteDropped, StripError } from "./strip-metadata-bytes.ts";
import { checkPngCrc, checkPngOrder, PNG_AFTER_END, PNG_CHUNK_HEADER, PNG_CRC, PNG_SIGNATURE, pngChunkHeader, pngDropName } from "./strip-metadata-png.ts";
import type { ByteReader } from "./strip-stream-reader.ts";

/**
 * The same walk as stripPng, in the same order of checks. A chunk is kept or dropped on its type
 * alone, so a kept chunk's bytes go out before its CRC is checked; a bad CRC still ends the walk with
 * a StripError, and the caller throws away everything it was given.
 */
export async function* walkPng(r: ByteReader, removed: string[]): AsyncGenerator<Uint8Array> {
  const signature = await r.read(PNG_SIGNATURE.length);
  if (!hasPrefix(signature, 0, PNG_SIGNATURE)) throw new StripError("png: bad signature");
  yield signature;
  for (let index = 0; ; index++) {
    const pos = r.offset;
    const head = await r.read(PNG_CHUNK_HEADER);
    if (head.length === 0) throw new StripError("png: no IEND chunk");
    const header = pngChunkHeader(head, pos);
    const name = pngDropName(header.type);
    if (!name) yield head;
    let crc = crc32(head.subarray(4));
    for await (const piece of r.pass(header.length, header.what)) {
      crc = crc32(piece, crc);
      if (!name) yield piece;
    }
    const stored = await r.readExact(PNG_CRC, header.what);
    checkPngCrc(crc, stored, header, pos);
    checkPngOrder(header.type, index);
    if (name) noteDropped(removed, name);
    else yield stored;
    if (header.type === "IEND") {
      if (!(await r.atEnd())) noteDropped(removed, PNG_AFTER_END);
      return;
    }
  }
}
