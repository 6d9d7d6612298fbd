/** SECURITY.md, images: hostile POST_IMAGE requests and uploads against a real server on 127.0.0.1 (P19–P21). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { CrlSource } from "../../src/client/crl.ts";
import { TrustError } from "../../src/client/errors.ts";
import { postImage } from "../../src/client/post.ts";
import { receiveImage } from "../../src/client/receive.ts";
import { connectAs } from "../../src/client/session.ts";
import { cipherSize } from "../../src/crypto/index.ts";
import { CONTENT_TYPES, encodeData, encodeMessage, MAX_DATA_FRAME, toBase64 } from "../../src/protocol/index.ts";
import {
  craftPost, expectRefusal, expectStillServing, listedNames, placeholderPost, pngLike, rawHello, sandboxForFile, announcedStorageCert,
  tmpFiles, until, type CraftOptions, type ErrorReply, type PostImage, type Sandbox, type User,
} from "../support/security-kit.ts";
import { DOT_NAMES, LONG_NAME, NUL_NAME, PATH_NAMES, UNICODE_TRICK_NAMES } from "../support/hostile-names.ts";

const MAX_IMAGE = 64 * 1024;

let sb: Sandbox;
let carol: User;
let olga: User;
let storage: Uint8Array;
sandboxForFile(["carol", "olga"], async (box, [carol_, olga_]) => {
  sb = box;
  carol = carol_; olga = olga_;
  storage = await announcedStorageCert(sb, olga);
}, { maxImageSize: MAX_IMAGE });

function dataFrames(bytes: Uint8Array): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += MAX_DATA_FRAME) frames.push(encodeData(bytes.subarray(at, at + MAX_DATA_FRAME)));
  return new Uint8Array(Buffer.concat(frames));
}

/** A POST_IMAGE refused before UPLOAD_READY; nothing is created, the next client is served. */
async function refusedPost(message: PostImage, code: string, fatal: boolean, user = olga): Promise<ErrorReply> {
  const { client } = await rawHello(sb, user);
  client.write(encodeMessage(message));
  const reply = await expectRefusal(client, code, fatal);
  client.close();
  expect(tmpFiles(sb)).toEqual([]);
  await expectStillServing(sb, carol);
  return reply;
}

/** Starts an upload as olga; returns the open client after UPLOAD_READY. */
async function startUpload(o: CraftOptions) {
  const crafted = await craftPost(olga, storage, o);
  const { client } = await rawHello(sb, olga);
  client.write(encodeMessage(crafted.message));
  expect((await client.next())?.type).toBe("UPLOAD_READY");
  return { client, ...crafted };
}

/** Nothing of `name` is visible and no temporary file is left. */
async function nothingKept(name: string): Promise<void> {
  await until(() => tmpFiles(sb).length === 0, "the temporary file to be removed");
  expect(await listedNames(carol)).not.toContain(`olga/${name}`);
}

async function receiveAsCarol(id: string): Promise<{ error: unknown; saved: string[] }> {
  const out = join(sb.root, "carol-out", id);
  mkdirSync(out, { recursive: true });
  const conn = await connectAs(carol.creds);
  try {
    const error = await receiveImage(conn, carol.creds, new CrlSource(carol.creds.caDer), { id }, out).then(() => null, (e: unknown) => e);
    // Only files count: the owner's directory may exist, empty.
    const saved = (readdirSync(out, { recursive: true, withFileTypes: true }) as Dirent[]).filter((e) => !e.isDirectory()).map((e) => e.name);
    return { error, saved };
  } finally {
    conn.close();
  }
}

describe("images", () => {
  test("non-image bytes declared as an image", async () => {
    // The server cannot see plaintext, so it stores the upload; the receiver sniffs the decrypted bytes and refuses.
    const bytes = new TextEncoder().encode("MZ\x90\x00 This program cannot be run in DOS mode. <script>alert(1)</script>");
    const { client, ciphertext } = await startUpload({ name: "totally-a-cat.png", bytes });
    client.write(dataFrames(ciphertext));
    const posted = await client.next();
    client.close();
    if (posted?.type !== "POSTED") throw new Error(`expected POSTED, got ${JSON.stringify(posted)}`);
    const { error, saved } = await receiveAsCarol(posted.image.id);
    expect(error).toBeInstanceOf(TrustError);
    expect((error as TrustError).check).toBe("content");
    expect(saved).toEqual([]);
    await expectStillServing(sb, carol);
  });

  test("a content type that is not an image", async () => {
    await refusedPost(placeholderPost({ name: "page.html", contentType: "text/html" }), "BAD_IMAGE", false);
    await refusedPost(placeholderPost({ name: "vector.svg", contentType: "image/svg+xml" }), "BAD_IMAGE", false);
  });

  test("an empty image (size 0) is refused at POST_IMAGE, before anything is stored", async () => {
    // Every receiver refuses an empty image; the server must not store one (P19).
    const { message } = await craftPost(olga, storage, { name: "empty.png", bytes: new Uint8Array(0) });
    const reply = await refusedPost(message, "BAD_IMAGE", false);
    // The advice names every type the server takes (HEIC, HEIF and AVIF came after the first wording).
    expect(reply.message).toBe(`the image is empty (0 bytes); post an image file with content (sis takes ${CONTENT_TYPES.join(", ")})`);
    expect(await listedNames(carol)).not.toContain("olga/empty.png");
  });

  test("a size over the cap", async () => {
    await refusedPost(placeholderPost({ name: "big.png", size: MAX_IMAGE + 1, dataSize: cipherSize(MAX_IMAGE + 1) }), "TOO_LARGE", false);
    await refusedPost(placeholderPost({ name: "huge.png", size: Number.MAX_SAFE_INTEGER, dataSize: Number.MAX_SAFE_INTEGER }), "TOO_LARGE", false);
  });

  test("a size over the cap, through the real client", async () => {
    // The client reads the cap from the server's HELLO and refuses before it sends anything.
    const path = join(sb.root, "big.png");
    writeFileSync(path, pngLike(MAX_IMAGE + 1));
    const conn = await connectAs(olga.creds);
    try {
      const error = await postImage(conn, olga.creds, path).then(() => null, (e: Error) => e);
      expect(error?.message).toContain(`at most ${MAX_IMAGE}`);
    } finally {
      conn.close();
    }
  });

  test("more bytes than the size declared", async () => {
    const { client, ciphertext } = await startUpload({ name: "more.png", bytes: pngLike(1000) });
    client.write(dataFrames(new Uint8Array(Buffer.concat([ciphertext, new Uint8Array(10)]))));
    await expectRefusal(client, "BAD_UPLOAD", true);
    await nothingKept("more.png");
    await expectStillServing(sb, carol);
  });

  test("fewer bytes than the size declared, then another request", async () => {
    const { client, ciphertext } = await startUpload({ name: "fewer.png", bytes: pngLike(1000) });
    client.write(dataFrames(ciphertext.subarray(0, ciphertext.length - 100)));
    client.write(encodeMessage({ type: "LIST" }));
    await expectRefusal(client, "BAD_UPLOAD", true);
    await nothingKept("fewer.png");
    await expectStillServing(sb, carol);
  });

  test("a dataSize that does not match the size", async () => {
    const { message } = await craftPost(olga, storage, { name: "lying.png", bytes: pngLike(1000) });
    await refusedPost({ ...message, dataSize: message.dataSize + 1 }, "BAD_UPLOAD", true);
    await refusedPost({ ...message, dataSize: 1000 }, "BAD_UPLOAD", true);
  });

  test("an envelope header that lies about the size", async () => {
    // The request says 1000 bytes, the authenticated header says 999: the server refuses the mismatch.
    const { message } = await craftPost(olga, storage, { name: "header-size.png", bytes: pngLike(1000), header: { size: 999 } });
    await refusedPost(message, "BAD_UPLOAD", true);
  });

  test("an envelope header naming another owner", async () => {
    // Posting as carol from olga's connection: the header is bound to every chunk, so it must name olga.
    const { message } = await craftPost(olga, storage, { name: "as-carol.png", bytes: pngLike(1000), header: { owner: "carol" } });
    await refusedPost(message, "BAD_UPLOAD", true);
  });

  test("an envelope header that does not decode", async () => {
    await refusedPost(placeholderPost({ name: "junk-header.png", header: toBase64(new TextEncoder().encode("SISENV\x09garbage")) }), "BAD_UPLOAD", true);
  });

  test("an image key wrapped for someone other than the server", async () => {
    const { message } = await craftPost(olga, storage, { name: "wrong-key.png", bytes: pngLike(1000), wrapFor: carol.creds.certDer });
    await refusedPost(message, "BAD_UPLOAD", true);
  });

  test("a signature by another user", async () => {
    // olga uploads under her own name with carol's signature: stored (the server does not judge
    // signatures), refused by every receiver because the signer is not the owner (V6).
    const { client, ciphertext } = await startUpload({ name: "signed-by-carol.png", bytes: pngLike(1000), signer: carol });
    client.write(dataFrames(ciphertext));
    const posted = await client.next();
    client.close();
    if (posted?.type !== "POSTED") throw new Error(`expected POSTED, got ${JSON.stringify(posted)}`);
    const { error, saved } = await receiveAsCarol(posted.image.id);
    expect(error).toBeInstanceOf(TrustError);
    expect((error as TrustError).check).toBe("signature");
    expect(saved).toEqual([]);
  });

  /** Each name, in turn on one connection, is BAD_NAME and not fatal; then a legitimate client is served. */
  async function refusedNames(names: readonly string[]): Promise<void> {
    const { client } = await rawHello(sb, olga);
    for (const name of names) {
      client.write(encodeMessage(placeholderPost({ name })));
      await expectRefusal(client, "BAD_NAME", false);
    }
    client.close();
    await expectStillServing(sb, carol);
  }

  test("names with path separators", async () => {
    await refusedNames(PATH_NAMES);
  });

  test("a name with NUL", async () => {
    await refusedPost(placeholderPost({ name: NUL_NAME }), "BAD_NAME", false);
  });

  test("a very long name", async () => {
    // 256 bytes of UTF-8 (128 two-byte characters) breaks P20; 1,025 characters breaks the message schema.
    await refusedPost(placeholderPost({ name: LONG_NAME }), "BAD_NAME", false);
    await refusedPost(placeholderPost({ name: "a".repeat(1025) }), "BAD_MESSAGE", true);
  });

  test("unicode tricks in names", async () => {
    await refusedNames(UNICODE_TRICK_NAMES);
  });

  test("dot names", async () => {
    await refusedNames(DOT_NAMES);
  });

  test("a name already taken", async () => {
    const first = await startUpload({ name: "taken.png", bytes: pngLike(500) });
    first.client.write(dataFrames(first.ciphertext));
    expect((await first.client.next())?.type).toBe("POSTED");
    first.client.close();
    const { message } = await craftPost(olga, storage, { name: "taken.png", bytes: pngLike(600) });
    await refusedPost(message, "NAME_TAKEN", false);
  });

  test("a data frame without an upload", async () => {
    const { client } = await rawHello(sb, olga);
    client.write(encodeData(new Uint8Array(100)));
    await expectRefusal(client, "BAD_UPLOAD", true);
    await expectStillServing(sb, carol);
  });
});
