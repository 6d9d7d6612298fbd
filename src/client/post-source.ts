/**
 * The bytes a version-2 post sends (PROTOCOL.md P33): the file read and stripped once, hashed
 * while it is sealed, the signature made afterwards. The header needs the stripped size before
 * the first chunk is sealed (it is the AAD of every chunk, ENVELOPE.md), so an image up to
 * ONE_PASS_MAX is stripped into memory once; a larger one is stripped twice (the first pass only
 * counts), so memory stays flat whatever the image's size.
 */
import type { ContentType } from "../protocol/index.ts";
import { StripError, stripStream } from "../image/strip.ts";
import { ClientError } from "./errors.ts";
import { readChunks, readChunksReusing } from "./file-source.ts";

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

const changed = (path: string) => new ClientError(`cannot post ${path}: the file changed while it was being posted; try again`);

function notWellFormed(path: string, contentType: ContentType, error: StripError): ClientError {
  const format = contentType.slice(6).toUpperCase().replace("WEBP", "WebP");
  return new ClientError(`cannot post ${path}: it is not a well-formed ${format} image (${error.message}), so its metadata cannot be removed; pass --keep-metadata to post it unchanged`);
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
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const again: string[] = [];
      let length = 0;
      try {
        for await (const chunk of read(true, again, [])) {
          length += chunk.length;
          if (length > size) throw changed(path);
          yield chunk;
        }
      } catch (error) {
        throw error instanceof StripError ? changed(path) : error;
      }
      if (length !== size || again.join("\n") !== removed.join("\n")) throw changed(path);
    }
    return { size, removed, kept, chunks };
  } catch (error) {
    if (error instanceof StripError) throw notWellFormed(path, contentType, error);
    throw error;
  }
}
