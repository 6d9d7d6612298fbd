/** Posting: check the file is an image, sign it, seal it, wrap its key for the server, stream it up. */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { cipherSize, createImageDigest, encodeHeader, generateContentKey, newHeader, sealStream, signImage, wrapKey } from "../crypto/index.ts";
import { fromBase64, imageNameProblem, toBase64, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { ClientError } from "./errors.ts";
import { readChunks, readHead } from "./file-source.ts";
import type { Credentials } from "./home.ts";
import { SNIFF_BYTES, sniffImageType } from "./image-type.ts";
import { StripError } from "./strip-metadata.ts";
import { stripStream } from "./strip-stream.ts";
import { verifyStorageCert } from "./storage-cert.ts";

export interface PostOptions {
  name?: string;
  /** Keep EXIF/XMP and other metadata (location, camera) instead of removing it. */
  keepMetadata?: boolean;
  /** Called with bytes sent so far and the total, for progress display. */
  onProgress?: (sent: number, total: number) => void;
}

export interface Posted {
  image: ImageMeta;
  /** Metadata removed before signing (empty with keepMetadata). */
  removed: string[];
}

/** The bytes to post, readable twice (digest pass, then seal pass) in bounded chunks. */
interface Source {
  size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * Location privacy: metadata (EXIF with GPS, XMP, IPTC, text chunks) is
 * removed before the image is signed, without touching the pixels. The
 * stripper streams, so memory stays flat whatever the image's size: a first
 * pass here checks the image and learns the stripped size and what goes, and
 * every later read of the source strips the file again (never reads it raw,
 * so a file that gains metadata meanwhile still loses it). --keep-metadata
 * streams the file as it is.
 */
async function prepare(path: string, size: number, contentType: NonNullable<ReturnType<typeof sniffImageType>>, keep: boolean): Promise<{ source: Source; removed: string[] }> {
  const file = () => readChunks(path);
  if (keep) return { source: { size, chunks: file }, removed: [] };
  const removed: string[] = [];
  let stripped = 0;
  try {
    for await (const chunk of stripStream(contentType, file, removed)) stripped += chunk.length;
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    throw new ClientError(`cannot post ${path}: it is not a well-formed ${contentType.slice(6).toUpperCase()} image (${error.message}), so its metadata cannot be removed; pass --keep-metadata to post it unchanged`);
  }
  const changed = () => new ClientError(`cannot post ${path}: the file changed while it was being posted; try again`);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    // postImage's digest check proves the bytes sent are the bytes signed; this proves both are the
    // image judged here: the same size, and the same blocks dropped.
    const again: string[] = [];
    let length = 0;
    try {
      for await (const chunk of stripStream(contentType, file, again)) {
        length += chunk.length;
        if (length > stripped) throw changed();
        yield chunk;
      }
    } catch (error) {
      throw error instanceof StripError ? changed() : error;
    }
    if (length !== stripped || again.join("\n") !== removed.join("\n")) throw changed();
  }
  return { source: { size: stripped, chunks }, removed };
}

export async function postImage(conn: Connection, creds: Credentials, path: string, opts: PostOptions = {}): Promise<Posted> {
  const name = opts.name ?? basename(path);
  const problem = imageNameProblem(name);
  if (problem) throw new ClientError(`cannot post ${path}: ${problem}; pass --name`, 2);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new ClientError(`cannot post ${path}: no such file`);
  const size = info.size;
  const max = conn.hello.limits.maxImageSize;
  if (size > max) throw new ClientError(`cannot post ${path}: it is ${size} bytes and the server takes at most ${max}`);
  const contentType = sniffImageType(await readHead(path, SNIFF_BYTES));
  if (!contentType) throw new ClientError(`cannot post ${path}: it is not a PNG, JPEG, GIF or WebP image (judged by its content)`);

  const { source, removed } = await prepare(path, size, contentType, opts.keepMetadata ?? false);
  const plainSize = source.size;

  // Pass 1: digest for the signature.
  const owner = creds.profile.username;
  const digest = createImageDigest();
  for await (const chunk of source.chunks()) digest.update(chunk);
  const signed = digest.digest();
  const signature = await signImage({ digest: signed, owner, name, contentType, certDer: creds.certDer, privateKeyPkcs8: creds.keyPkcs8 });

  const storageCertDer = fromBase64(conn.hello.storageCertificate);
  await verifyStorageCert(storageCertDer, creds.caDer);
  const key = generateContentKey();
  const header = newHeader({ owner, name, contentType, size: plainSize });
  const wrappedKey = await wrapKey(key, storageCertDer);
  const dataSize = cipherSize(plainSize);
  await conn.expect(
    { type: "POST_IMAGE", name, contentType, size: plainSize, dataSize, header: toBase64(encodeHeader(header)), signature: toBase64(signature), wrappedKey: toBase64(wrappedKey) },
    "UPLOAD_READY",
  );

  // Pass 2: seal and send. The final chunk is held back until the bytes read
  // now are proven identical to the ones signed, so a file changed between
  // the passes is never completed on the server.
  const again = createImageDigest();
  async function* hashed() {
    for await (const chunk of source.chunks()) {
      again.update(chunk);
      yield chunk;
    }
  }
  let held: Uint8Array | null = null;
  let sent = 0;
  for await (const chunk of sealStream(key, header, hashed())) {
    if (held) {
      await conn.sendData(held);
      sent += held.length;
      opts.onProgress?.(sent, dataSize);
    }
    held = chunk;
  }
  key.fill(0);
  if (!held || Buffer.compare(again.digest(), signed) !== 0) {
    conn.close();
    throw new ClientError(`cannot post ${path}: the file changed while it was being posted; try again`);
  }
  await conn.sendData(held);
  opts.onProgress?.(dataSize, dataSize);
  const reply = await conn.receive();
  if (reply.type !== "POSTED") throw new ClientError(`the server answered ${reply.type} where POSTED was expected`);
  return { image: reply.image, removed };
}
