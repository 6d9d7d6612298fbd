/**
 * The bytes a version-2 post sends (PROTOCOL.md P33): the file read and stripped once, hashed
 * while it is sealed, the signature made afterwards. The header needs the stripped size before
 * the first chunk is sealed (it is the AAD of every chunk, ENVELOPE.md). Where the format can tell
 * it from its block headers alone (PNG: planStrip), that walk gives it and the file is stripped
 * as it is sent; otherwise an image up to ONE_PASS_MAX is stripped into memory once, and a larger
 * one twice (the first pass only counts), so memory stays flat whatever the image's size.
 */
import type { ContentType } from "../protocol/index.ts";
import { planStrip, StripError, stripStream, type ImageKind } from "../image/strip.ts";
import { ClientError } from "./errors.ts";
import { readChunks, readChunksReusing, windowedReader, type WindowedReader } from "./file-source.ts";

/** Images up to this size are read and stripped once, into memory (an album's photos are a few MiB). */
export const ONE_PASS_MAX = 16 * 1024 * 1024;

export interface PostSource {
  /** Plaintext bytes after stripping. */
  size: number;
  removed: string[];
  kept: string[];
  /** The bytes, in chunks; valid until the next is asked for. Throws if they are not `size` bytes. */
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * A post that failed because of its own file (changed while read, or not well-formed): the
 * connection it closed mid-stream (P36) failed the others in flight, not the other way round,
 * so a batch does not try this one again (src/client/post-batch-pipelined.ts).
 */
export class SourceError extends ClientError {}

const changed = (path: string) => new SourceError(`cannot post ${path}: the file changed while it was being posted; try again`);

function notWellFormed(path: string, contentType: ContentType, error: StripError): ClientError {
  const format = contentType.slice(6).toUpperCase().replace("WEBP", "WebP");
  return new SourceError(`cannot post ${path}: it is not a well-formed ${format} image (${error.message}), so its metadata cannot be removed; pass --keep-metadata to post it unchanged`);
}

/** The stripped size and names from the image's block headers (planStrip), or null when its format has no such walk. */
async function planned(path: string, contentType: ContentType, fileSize: number): Promise<{ size: number; removed: string[]; kept: string[] } | null> {
  const removed: string[] = [];
  const kept: string[] = [];
  // Opened at the first read: a format without a plan (a JPEG of an album) costs no open.
  const opened: { file?: WindowedReader } = {};
  const readAt = async (position: number, length: number) => (opened.file ??= await windowedReader(path)).readAt(position, length);
  try {
    const size = await planStrip(contentType as ImageKind, readAt, fileSize, removed, kept);
    return size === null ? null : { size, removed, kept };
  } finally {
    await opened.file?.close();
  }
}

/** Reads (and, unless `keep`, strips) the file at `path` whose size on disk is `fileSize`. */
export async function readPostSource(path: string, contentType: ContentType, keep: boolean, fileSize: number): Promise<PostSource> {
  const removed: string[] = [];
  const kept: string[] = [];
  // readChunks gives a fresh buffer per chunk, so the stripper's pass-through views of them stay valid while held.
  const read = (reuse: boolean, into: string[], keptInto: string[]) => {
    const file = () => (reuse ? readChunksReusing(path) : readChunks(path));
    return keep ? file() : stripStream(contentType, file, into, keptInto);
  };
  try {
    const plan = keep ? null : await planned(path, contentType, fileSize);
    if (plan) {
      // Stripped while it is sent: a CRC or anything else only the data shows ends the upload
      // (the connection closes, P36) as not well-formed; a size or names other than planned, as changed.
      return { ...plan, chunks: () => stripAgain(plan.size, plan.removed, plan.kept, (error) => notWellFormed(path, contentType, error)) };
    }
    if (fileSize <= ONE_PASS_MAX) {
      const held: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of read(false, removed, kept)) {
        held.push(chunk);
        size += chunk.length;
        if (size > ONE_PASS_MAX + fileSize) throw changed(path); // grew meanwhile beyond any reason
      }
      return { size, removed, kept, chunks: async function* () { yield* held; } };
    }
    let size = 0;
    for await (const chunk of read(true, removed, kept)) size += chunk.length;
    // The first pass walked it all: a StripError now means the file changed since.
    return { size, removed, kept, chunks: () => stripAgain(size, removed, kept, () => changed(path)) };
  } catch (error) {
    if (error instanceof StripError) throw notWellFormed(path, contentType, error);
    throw error;
  }

  /** The file stripped again as it is sent: `size` bytes and the same names, or it changed. */
  async function* stripAgain(size: number, removed: string[], kept: string[], onStripError: (error: StripError) => ClientError): AsyncGenerator<Uint8Array> {
    const again: string[] = [];
    const keptAgain: string[] = [];
    let length = 0;
    try {
      for await (const chunk of read(true, again, keptAgain)) {
        length += chunk.length;
        if (length > size) throw changed(path);
        yield chunk;
      }
    } catch (error) {
      throw error instanceof StripError ? onStripError(error) : error;
    }
    if (length !== size || again.join("\n") !== removed.join("\n") || keptAgain.join("\n") !== kept.join("\n")) throw changed(path);
  }
}
