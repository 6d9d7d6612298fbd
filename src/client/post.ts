/** Posting: check the file is an image, sign it, seal it, wrap its key for the server, stream it up. */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { CHUNK_SIZE, cipherSize, createImageDigest, encodeHeader, generateContentKey, newHeader, sealStreamInto, signImage, TAG_SIZE } from "../crypto/index.ts";
import { ACCEPTED_IMAGES } from "../image/formats.ts";
import { SNIFF_BYTES, sniffImageType } from "../image/sniff.ts";
import { StripError, stripStream } from "../image/strip.ts";
import { FRAME_HEADER_SIZE, imageNameProblem, PIPELINED_VERSION, toBase64, type ContentType, type ImageMeta } from "../protocol/index.ts";
import { offeredVersions, type Connection } from "./connection.ts";
import { ClientError, RemoteError } from "./errors.ts";
import { readChunksReusing, readHead } from "./file-source.ts";
import type { Credentials } from "./home.ts";
import { storageWrapOf } from "./storage-cert.ts";
import { SendBuffers } from "./send-buffers.ts";
import { Poster } from "./post-pipeline.ts";
import { readPostSource } from "./post-source.ts";

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
  /** Metadata kept because it changes how the picture looks: colour profile, orientation (empty with keepMetadata: all is kept). */
  kept: string[];
}

/** The image as it will be posted: measured and digested once, readable again for sealing. */
interface Prepared {
  size: number;
  digest: Uint8Array;
  /** Metadata removed (empty with keepMetadata). */
  removed: string[];
  kept: string[];
  /** The same bytes again, in bounded chunks; throws if they are not the same. */
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * Location privacy: metadata (EXIF with GPS, XMP, IPTC, text chunks) is
 * removed before the image is signed, without touching the pixels. The
 * stripper streams, so memory stays flat whatever the image's size. The
 * first pass learns the size, the digest to sign and what was removed; the
 * second (sealing) strips the file again — it never reads it raw, so a file
 * that gains metadata meanwhile still loses it — and must give the same
 * size and removals; postImage checks the digest. --keep-metadata streams
 * the file as it is.
 *
 * The file is read through two reused buffers (readChunksReusing): a chunk is
 * refilled once the next one is asked for. That is safe because every consumer
 * here is done with a chunk before it pulls again: the stripper holds only the
 * source's current chunk and hands out views of it or copies (ByteReader), the
 * digest and CRC-32 read it synchronously, and sealStream encrypts what it is
 * given or copies the remainder into its own buffer before it asks for more.
 * `check` runs once per chunk and may throw to stop early.
 */
async function prepare(path: string, contentType: ContentType, keep: boolean, check: () => void): Promise<Prepared> {
  const file = () => readChunksReusing(path);
  const read = (removed: string[], kept: string[] = []) => (keep ? file() : stripStream(contentType, file, removed, kept));
  const removed: string[] = [];
  const kept: string[] = [];
  const digest = createImageDigest();
  let size = 0;
  try {
    for await (const chunk of read(removed, kept)) {
      check();
      digest.update(chunk);
      size += chunk.length;
    }
  } catch (error) {
    if (!(error instanceof StripError)) throw error;
    throw new ClientError(`cannot post ${path}: it is not a well-formed ${contentType.slice(6).toUpperCase().replace("WEBP", "WebP")} image (${error.message}), so its metadata cannot be removed; pass --keep-metadata to post it unchanged`);
  }
  const changed = () => new ClientError(`cannot post ${path}: the file changed while it was being posted; try again`);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const again: string[] = [];
    let length = 0;
    try {
      for await (const chunk of read(again)) {
        length += chunk.length;
        if (length > size) throw changed();
        yield chunk;
      }
    } catch (error) {
      throw error instanceof StripError ? changed() : error;
    }
    if (length !== size || again.join("\n") !== removed.join("\n")) throw changed();
  }
  return { size, digest: digest.digest(), removed, kept, chunks };
}

/** What the connection gives the post: the server's limit and its storage key, checked and used to wrap. */
interface Recipient {
  conn: Connection;
  wrappedKey: Uint8Array;
}

/** What postImage learnt of the file before it talks to the server. */
interface Checked {
  name: string;
  size: number;
  contentType: ContentType;
}

/**
 * Posts the image at `path`. `conn` may still be connecting: the file is read meanwhile. Over
 * protocol version 2 (P30–P37) it is read, stripped, hashed and sealed once and signed after
 * its data; over version 1 (an older server) as before, in two passes.
 */
export async function postImage(conn: Connection | Promise<Connection>, creds: Credentials, path: string, opts: PostOptions = {}): Promise<Posted> {
  const checked = await check(conn, path, opts);
  const keep = opts.keepMetadata ?? false;
  // While the connection is made, the file is read (and stripped) for version 2; an older server
  // (found out only now) makes this read a wasted one, so a client that offers only 1 skips it.
  const early = conn instanceof Promise && offeredVersions().includes(PIPELINED_VERSION) ? readPostSource(path, checked.contentType, keep, checked.size) : null;
  early?.catch(() => {});
  const c = await conn;
  if (c.version < PIPELINED_VERSION) return postSequential(c, creds, path, checked, opts);
  tooLarge(c, path, checked.size);
  const handle = Poster.of(c, creds).post({
    path, name: checked.name, contentType: checked.contentType, fileSize: checked.size, keepMetadata: keep,
    ...(early ? { source: early } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  try {
    return await handle.posted;
  } catch (error) {
    throw restarting(error, path);
  }
}

function tooLarge(c: Connection, path: string, size: number): void {
  const max = c.hello.limits.maxImageSize;
  if (size > max) throw new ClientError(`cannot post ${path}: it is ${size} bytes and the server takes at most ${max}`);
}

/** The name, the file and its type, judged before anything is sent. */
export async function check(conn: Connection | Promise<Connection>, path: string, opts: PostOptions): Promise<Checked> {
  const name = opts.name ?? basename(path);
  const problem = imageNameProblem(name);
  if (problem) {
    // A bad --name is the name's fault, not the file's.
    if (opts.name !== undefined) throw new ClientError(`cannot use --name ${JSON.stringify(name)}: ${problem}; choose another name`, 2);
    throw new ClientError(`cannot post ${path}: its file name is not a valid image name (${problem}); pass --name`, 2);
  }
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new ClientError(`cannot post ${path}: no such file`);
  const size = info.size;
  if (!(conn instanceof Promise)) tooLarge(conn, path, size);
  const contentType = sniffImageType(await readHead(path, SNIFF_BYTES));
  if (!contentType) throw new ClientError(`cannot post ${path}: it is not a ${ACCEPTED_IMAGES} (judged by its content)`);
  return { name, size, contentType };
}

/** Protocol version 1: the signature in POST_IMAGE, so the file is read twice (P19–P21). */
async function postSequential(conn: Connection, creds: Credentials, path: string, { name, size, contentType }: Checked, opts: PostOptions): Promise<Posted> {
  const key = generateContentKey();
  try {
    // Side by side: the storage certificate (checked once per connection) and the key wrap; pass 1 over the file.
    let failed: { error: unknown } | null = null;
    const recipient = (async (): Promise<Recipient> => {
      tooLarge(conn, path, size);
      return { conn, wrappedKey: await (await storageWrapOf(conn, creds))(key) };
    })();
    recipient.catch((error: unknown) => (failed = { error })); // handled here; rethrown where awaited
    const check = () => {
      if (failed) throw failed.error;
    };

    // Pass 1: size, digest for the signature, metadata removed.
    const source = await prepare(path, contentType, opts.keepMetadata ?? false, check);
    const { removed, kept, size: plainSize, digest: signed } = source;
    const owner = creds.profile.username;
    const signature = await signImage({ digest: signed, owner, name, contentType, certDer: creds.certDer, privateKeyPkcs8: creds.keyPkcs8 });
    const { conn: connection, wrappedKey } = await recipient;
    const header = newHeader({ owner, name, contentType, size: plainSize });
    const dataSize = cipherSize(plainSize);
    await connection.expect(
      { type: "POST_IMAGE", name, contentType, size: plainSize, dataSize, header: toBase64(encodeHeader(header)), signature: toBase64(signature), wrappedKey: toBase64(wrappedKey) },
      "UPLOAD_READY",
    );

    // Pass 2: seal and send, each sealed chunk sealed straight into its data frame, in frame
    // buffers reused once the socket has taken them (SendBuffers). The final chunk is held
    // back until the bytes read now are proven identical to the ones signed, so a file
    // changed between the passes is never completed on the server.
    const again = createImageDigest();
    async function* hashed() {
      for await (const chunk of source.chunks()) {
        again.update(chunk);
        yield chunk;
      }
    }
    const buffers = new SendBuffers(FRAME_HEADER_SIZE + CHUNK_SIZE + TAG_SIZE);
    let frame: Uint8Array = new Uint8Array(0);
    const into = (length: number) => {
      frame = buffers.take().subarray(0, FRAME_HEADER_SIZE + length);
      return frame.subarray(FRAME_HEADER_SIZE); // the header goes in front, in place
    };
    let held: Uint8Array | null = null;
    let sent = 0;
    for await (const _ of sealStreamInto(key, header, hashed(), into)) {
      if (held) {
        await connection.sendDataFrame(held).catch((error: unknown) => whyClosed(connection, error));
        buffers.sent(held, connection.backlog);
        sent += held.length - FRAME_HEADER_SIZE;
        opts.onProgress?.(sent, dataSize);
      }
      held = frame;
    }
    key.fill(0);
    if (!held || Buffer.compare(again.digest(), signed) !== 0) {
      connection.close();
      throw new ClientError(`cannot post ${path}: the file changed while it was being posted; try again`);
    }
    await connection.sendDataFrame(held).catch((error: unknown) => whyClosed(connection, error));
    opts.onProgress?.(dataSize, dataSize);
    const reply = await connection.receive();
    if (reply.type !== "POSTED") throw new ClientError(`the server answered ${reply.type} where POSTED was expected`);
    return { image: reply.image, removed, kept };
  } catch (error) {
    throw restarting(error, path);
  } finally {
    key.fill(0);
  }
}

/** SHUTTING_DOWN before POSTED (O3): said of this file, with what to do. */
function restarting(error: unknown, path: string): unknown {
  if (!(error instanceof RemoteError) || error.code !== "SHUTTING_DOWN") return error;
  return new RemoteError(error.code, `cannot post ${path}: the server is shutting down or restarting and kept nothing of this upload; post it again once it is back`);
}

/**
 * The connection ended during the upload: the server's last word, an ERROR still
 * queued unread (SHUTTING_DOWN when it stops, O3), says why; otherwise `error`.
 */
async function whyClosed(connection: Connection, error: unknown): Promise<never> {
  if (connection.closed) await connection.receive();
  throw error;
}
