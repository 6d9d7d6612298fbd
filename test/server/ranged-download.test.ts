/**
 * A ranged DOWNLOAD (PROTOCOL.md P23a, protocol version 4) against a real server over real TLS:
 * `from` gives exactly the ciphertext's tail, compared byte for byte with a full download's, from
 * the file store and from S3 (s3rver); a `from` outside 0 ≤ from < dataSize is BAD_RANGE (not
 * fatal); on version 3 `from` stays an unknown field (BAD_MESSAGE, fatal), as on its server.
 */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4).
import "../../src/pki/reflect-polyfill.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { postImage } from "../../src/client/post.ts";
import { connectAs } from "../../src/client/session.ts";
import { CONTROL, DATA, decodeServerMessage, encodeMessage, type ServerMessageOf } from "../../src/protocol/index.ts";
import type { BlobStore } from "../../src/server/ports.ts";
import { S3BlobStore } from "../../src/store/index.ts";
import { tempDir } from "../support/cli.ts";
import type { RawClient } from "../support/raw-client.ts";
import { S3RVER_KEY, startS3, type S3Server } from "../support/s3.ts";
import { expectRefusal, pngLike, raw, sandboxForFile, type Sandbox, type User } from "../support/security-kit.ts";

const SIZE = 700_000; // several data frames (MAX_DATA_FRAME is 256 KiB)
let sb: Sandbox;
let walt: User;
let image: ServerMessageOf<"POSTED">["image"];
sandboxForFile(["olga", "walt"], async (box, [olga, walt_]) => {
  sb = box;
  walt = walt_;
  using dir = tempDir("sis-ranged-");
  const path = join(dir, "ranged.png");
  writeFileSync(path, pngLike(SIZE, 5));
  const conn = await connectAs(olga.creds);
  try {
    image = (await postImage(conn, olga.creds, path, { keepMetadata: true })).image;
  } finally {
    conn.close();
  }
});

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
}, 60_000);
afterAll(async () => {
  await s3?.[Symbol.asyncDispose]();
});

/** Walt's raw connection, offering `versions`; returns it with the version agreed. */
async function connect(versions: number[]): Promise<RawClient> {
  const client = await raw(sb, walt);
  client.write(encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "ranged-test", versions }));
  const hello = await client.next();
  expect(hello).toMatchObject({ type: "HELLO", version: Math.max(...versions) });
  return client;
}

/** Sends `request`; returns its IMAGE and the bytes of the data frames that follow it (exactly dataSize − from). */
async function download(client: RawClient, request: Record<string, unknown>): Promise<{ reply: ServerMessageOf<"IMAGE">; data: Uint8Array }> {
  client.write(encodeMessage({ type: "DOWNLOAD", ...request } as never));
  const first = await client.next(30_000);
  if (first?.type !== "IMAGE") throw new Error(`expected IMAGE, got ${JSON.stringify(first)?.slice(0, 300)}`);
  const want = first.dataSize - (first.from ?? 0);
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < want) {
    const frame = await client.frame(30_000);
    if (frame === null) throw new Error("the server closed the connection inside the data");
    if (frame.kind === CONTROL) throw new Error(`a control frame inside the data: ${JSON.stringify(decodeServerMessage(frame.payload)).slice(0, 200)}`);
    expect(frame.kind).toBe(DATA);
    parts.push(frame.payload.slice());
    got += frame.payload.length;
  }
  expect(got).toBe(want);
  // Nothing more follows: the next reply is the PONG of a PING.
  client.write(encodeMessage({ type: "PING" }));
  expect(await client.next()).toEqual({ type: "PONG" });
  return { reply: first, data: new Uint8Array(Buffer.concat(parts)) };
}

async function rangesMatchTheFullDownload(): Promise<void> {
  const client = await connect([1, 2, 3, 4]);
  try {
    const full = await download(client, { id: image.id });
    expect(full.reply.from).toBeUndefined(); // without from, the IMAGE of versions 1–3
    expect(full.data.byteLength).toBe(full.reply.dataSize);
    const dataSize = full.reply.dataSize;
    for (const from of [0, 1, 262_144, 300_001, dataSize - 1]) {
      const bytesBefore = sb.server.context.metrics.downloadBytes;
      const part = await download(client, { id: image.id, from });
      const { from: _from, wrappedKey: _key, ...same } = part.reply;
      const { wrappedKey: _fullKey, ...fullSame } = full.reply; // re-wrapped each time (RSA-OAEP is randomized)
      expect({ from: part.reply.from, ...same }).toEqual({ from, ...fullSame });
      expect(part.data).toEqual(full.data.subarray(from));
      expect(sb.server.context.metrics.downloadBytes - bytesBefore).toBe(dataSize - from);
    }
    const byName = await download(client, { owner: image.owner, name: image.name, from: dataSize - 10 });
    expect(byName.data).toEqual(full.data.subarray(dataSize - 10));
  } finally {
    client.close();
  }
}

describe("DOWNLOAD from (P23a, version 4)", () => {
  test("gives exactly the tail of the ciphertext a full download gives, dataSize − from bytes, from = dataSize − 1 too (file store)", async () => {
    await rangesMatchTheFullDownload();
    expect(sb.server.context.metrics.rangedDownloads).toBeGreaterThan(0);
  });

  test("the same from S3 (S3-4: the first range GET starts at from)", async () => {
    const ctx = sb.server.context;
    const files = ctx.blobs;
    const store = new S3BlobStore({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY, prefix: "ranged/", retry: 1 });
    // The stored ciphertext, copied into the bucket under its id.
    const writer = await store.create(image.id);
    for await (const chunk of files.read(image.id)) await writer.write(chunk);
    await writer.commit();
    const opened: number[] = [];
    const s3Only: BlobStore = {
      create: (id) => store.create(id),
      read: (id, size) => store.read(id, size),
      open: (id, from) => (opened.push(from ?? 0), store.open(id, from)),
      remove: (id) => store.remove(id),
      sweep: (keep, olderThan) => store.sweep(keep, olderThan),
    };
    ctx.blobs = s3Only;
    try {
      await rangesMatchTheFullDownload();
    } finally {
      ctx.blobs = files;
    }
    expect(opened).toContain(300_001);
  });

  test("a from at or past dataSize, or negative, is BAD_RANGE (not fatal); nothing follows it", async () => {
    const client = await connect([1, 2, 3, 4]);
    try {
      const dataSize = (await download(client, { id: image.id })).reply.dataSize;
      for (const from of [dataSize, dataSize + 1, Number.MAX_SAFE_INTEGER, -1, -Number.MAX_SAFE_INTEGER]) {
        client.write(encodeMessage({ type: "DOWNLOAD", id: image.id, from } as never));
        const reply = await expectRefusal(client, "BAD_RANGE", false);
        expect(reply.message).toContain("without from");
      }
      // A from that is not an integer breaks the schema, as any such field does (P7).
      client.write(encodeMessage({ type: "DOWNLOAD", id: image.id, from: 1.5 } as never));
      await expectRefusal(client, "BAD_MESSAGE", true);
    } finally {
      client.close();
    }
  });

  test("on version 3 from is an unknown field: BAD_MESSAGE (fatal), as on a server of version 3", async () => {
    const client = await connect([1, 2, 3]);
    try {
      client.write(encodeMessage({ type: "DOWNLOAD", id: image.id, from: 1 } as never));
      const reply = await expectRefusal(client, "BAD_MESSAGE", true);
      expect(reply.message).toContain("unknown field");
    } finally {
      client.close();
    }
  });
});
