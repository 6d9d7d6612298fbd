/** SECURITY.md, pipelined posting: hostile version-2 uploads against a real server on 127.0.0.1 (PROTOCOL.md P10a, P30–P37). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { encodeData, encodeMessage, MAX_DATA_FRAME, MAX_UPLOADS_IN_FLIGHT, MAX_UPLOADS_PER_USER, type ServerMessage } from "../../src/protocol/index.ts";
import {
  craftPost, expectRefusal, expectStillServing, listedNames, pngLike, raw, sandboxForFile, announcedStorageCert, rawHello,
  tmpFiles, until, type CraftOptions, type Sandbox, type User,
} from "../support/security-kit.ts";
import type { RawClient } from "../support/raw-client.ts";
import { checkBlobDir } from "../support/durability-checks.ts";
import { connectAs } from "../../src/client/session.ts";
import { CertificateAuthority, createCa, fromPem } from "../../src/pki/index.ts";
import { join } from "node:path";

let sb: Sandbox;
let carol: User;
let olga: User;
let storage: Uint8Array;
sandboxForFile(["carol", "olga"], async (box, [carol_, olga_]) => {
  sb = box;
  carol = carol_; olga = olga_;
  storage = await announcedStorageCert(sb, olga);
}, { maxImageSize: 64 * 1024, uploadStallTimeoutMs: 1_500 });

const hello = (versions?: number[]) => encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "pipelined-test", ...(versions ? { versions } : {}) });

/** A raw connection as `user` that agreed on version 2. */
async function v2(user = olga): Promise<RawClient> {
  const client = await raw(sb, user);
  client.write(hello([1, 2]));
  const reply = await client.next();
  if (reply?.type !== "HELLO" || reply.version !== 2) throw new Error(`expected HELLO version 2, got ${JSON.stringify(reply)?.slice(0, 200)}`);
  return client;
}

/** A version-2 POST_IMAGE for `upload`, its ciphertext in data frames and its POST_SIGNATURE, made with the real crypto. */
async function crafted(upload: number, o: CraftOptions) {
  const { message, ciphertext } = await craftPost(olga, storage, o);
  const { signature, ...fields } = message as typeof message & { signature: string };
  const frames: Uint8Array[] = [];
  for (let at = 0; at < ciphertext.length; at += MAX_DATA_FRAME) frames.push(encodeData(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
  return {
    post: encodeMessage({ ...fields, upload }),
    data: new Uint8Array(Buffer.concat(frames)),
    ciphertext,
    signature: encodeMessage({ type: "POST_SIGNATURE", upload, signature }),
    v1: encodeMessage(message),
  };
}

/** The next reply, the pushes of images posted meanwhile (NEW_IMAGE, P22) skipped. */
async function next(client: RawClient): Promise<ServerMessage> {
  for (;;) {
    const reply = await client.next();
    if (reply === null) throw new Error("the server closed the connection");
    if (reply.type !== "NEW_IMAGE") return reply;
  }
}

/** Nothing of `name` is listed and no temporary file, nor a blob that no listed image has, is left. */
async function nothingKept(name: string): Promise<void> {
  await until(() => tmpFiles(sb).length === 0, "the temporary file to be removed");
  expect(await listedNames(carol)).not.toContain(`olga/${name}`);
  await until(async () => (await blobProblems()).length === 0, "no blob without its image");
  expect(await blobProblems()).toEqual([]);
}

async function blobProblems(): Promise<string[]> {
  const conn = await connectAs(carol.creds);
  try {
    const page = await conn.request({ type: "LIST", limit: 100 });
    if (page.type !== "IMAGES") throw new Error(`expected IMAGES, got ${page.type}`);
    return await checkBlobDir(join(sb.root, "data"), page.images.map((i) => i.id));
  } finally {
    conn.close();
  }
}

describe("HELLO.versions (P10a)", () => {
  test("a client that offers 1 and 2 gets version 2; one that offers nothing, or only versions the server does not speak, gets version 1", async () => {
    for (const [versions, agreed] of [[[1, 2], 2], [undefined, 1], [[1], 1], [[1, 6, 7], 1], [[2], 2], [[1, 2, 3], 3], [[1, 2, 3, 4], 4], [[4, 9], 4], [[1, 5, 7], 5], [[1, 2, 3, 4, 5], 5]] as const) {
      const client = await raw(sb, olga);
      client.write(hello(versions ? [...versions] : undefined));
      expect(await client.next()).toMatchObject({ type: "HELLO", version: agreed });
      client.close();
    }
  });

  test("a HELLO whose versions are not a list of small positive integers is BAD_MESSAGE", async () => {
    for (const versions of ['[]', '[0]', '["2"]', '[1.5]', `[${Array.from({ length: 17 }, () => 1).join(",")}]`, '{"a":1}']) {
      const client = await raw(sb, olga);
      const text = `{"type":"HELLO","protocol":"sis","version":1,"client":"x","versions":${versions}}`;
      const payload = new TextEncoder().encode(text);
      const frame = new Uint8Array(5 + payload.length);
      frame[0] = 1;
      new DataView(frame.buffer).setUint32(1, payload.length);
      frame.set(payload, 5);
      client.write(frame);
      await expectRefusal(client, "BAD_MESSAGE", true);
    }
    await expectStillServing(sb, carol);
  });
});

describe("pipelined posting (P30–P37)", () => {
  test("two uploads in flight: each answered by its id, data one after the other, signatures in any order", async () => {
    const client = await v2();
    const a = await crafted(11, { name: "pipe-a.png", bytes: pngLike(5000, 1) });
    const b = await crafted(12, { name: "pipe-b.png", bytes: pngLike(7000, 2) });
    client.write(a.post);
    client.write(b.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 11 });
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 12 });
    client.write(a.data);
    client.write(b.data);
    client.write(b.signature);
    client.write(a.signature);
    const replies = [await next(client), await next(client)];
    expect(replies.map((r) => [r.type, "upload" in r ? r.upload : null]).sort()).toEqual([["POSTED", 11], ["POSTED", 12]]);
    client.close();
    expect(await listedNames(carol)).toEqual(expect.arrayContaining(["olga/pipe-a.png", "olga/pipe-b.png"]));
  });

  test("a refusal of one upload carries its id and leaves the connection and the other uploads alone (NAME_TAKEN)", async () => {
    const client = await v2();
    const first = await crafted(1, { name: "taken-v2.png", bytes: pngLike(1000) });
    client.write(first.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 1 });
    client.write(first.data);
    client.write(first.signature);
    expect(await next(client)).toMatchObject({ type: "POSTED", upload: 1 });
    expect(await client.next()).toMatchObject({ type: "NEW_IMAGE" }); // its own push, before the next request is read
    const again = await crafted(2, { name: "taken-v2.png", bytes: pngLike(1000) });
    client.write(again.post);
    const refusal = await expectRefusal(client, "NAME_TAKEN", false);
    expect(refusal.upload).toBe(2);
    client.close();
  });

  test("a version-1 POST_IMAGE (signature inside) on a version-2 connection is BAD_MESSAGE", async () => {
    const client = await v2();
    client.write((await crafted(1, { name: "v1-on-v2.png", bytes: pngLike(1000) })).v1);
    await expectRefusal(client, "BAD_MESSAGE", true);
    await nothingKept("v1-on-v2.png");
  });

  test("on a version-1 connection an upload id is BAD_MESSAGE and POST_SIGNATURE is UNKNOWN_MESSAGE, as on a server of version 1", async () => {
    const c = await crafted(1, { name: "v2-on-v1.png", bytes: pngLike(1000) });
    const { client } = await rawHello(sb, olga);
    client.write(c.post);
    await expectRefusal(client, "BAD_MESSAGE", true);
    const second = await rawHello(sb, olga);
    second.client.write(c.signature);
    await expectRefusal(second.client, "UNKNOWN_MESSAGE", true);
    await nothingKept("v2-on-v1.png");
  });

  test("a POST_SIGNATURE for an upload that is not in flight is UNKNOWN_UPLOAD", async () => {
    const client = await v2();
    client.write((await crafted(99, { name: "ghost.png", bytes: pngLike(1000) })).signature);
    const refusal = await expectRefusal(client, "UNKNOWN_UPLOAD", true);
    expect(refusal.upload).toBe(99);
    await nothingKept("ghost.png");
  });

  test("an upload id already in flight is UNKNOWN_UPLOAD, and both uploads are dropped", async () => {
    const client = await v2();
    const a = await crafted(5, { name: "dup-a.png", bytes: pngLike(1000) });
    const b = await crafted(5, { name: "dup-b.png", bytes: pngLike(1000) });
    client.write(a.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 5 });
    client.write(b.post);
    await expectRefusal(client, "UNKNOWN_UPLOAD", true);
    await nothingKept("dup-a.png");
    await nothingKept("dup-b.png");
  });

  test(`more than ${MAX_UPLOADS_IN_FLIGHT} uploads in flight on one connection is TOO_MANY_UPLOADS, and none is kept`, async () => {
    const client = await v2(carol);
    const posts = [];
    for (let i = 1; i <= MAX_UPLOADS_IN_FLIGHT + 1; i++) {
      const { message } = await craftPost(carol, storage, { name: `window-${i}.png`, bytes: pngLike(1000) });
      const { signature: _s, ...fields } = message as typeof message & { signature: string };
      posts.push(encodeMessage({ ...fields, upload: i }));
    }
    for (const p of posts) client.write(p);
    for (let i = 1; i <= MAX_UPLOADS_IN_FLIGHT; i++) expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: i });
    await expectRefusal(client, "TOO_MANY_UPLOADS", true);
    await until(() => tmpFiles(sb).length === 0, "the temporary files to be removed");
    expect((await listedNames(olga)).filter((n) => n.startsWith("carol/window-"))).toEqual([]);
  });

  test(`uploads in flight on two connections still count against MAX_UPLOADS_PER_USER: the fifth is BUSY, with its id, not fatal`, async () => {
    const a = await v2();
    const b = await v2();
    const posts = [];
    for (let i = 1; i <= MAX_UPLOADS_PER_USER + 1; i++) posts.push(await crafted(i, { name: `per-user-${i}.png`, bytes: pngLike(1000) }));
    for (const p of posts.slice(0, 3)) a.write(p.post);
    for (let i = 1; i <= 3; i++) expect(await next(a)).toEqual({ type: "UPLOAD_READY", upload: i });
    b.write(posts[3]!.post);
    expect(await next(b)).toEqual({ type: "UPLOAD_READY", upload: 4 });
    b.write(posts[4]!.post);
    const refusal = await expectRefusal(b, "BUSY", false);
    expect(refusal.upload).toBe(5);
    a.destroy();
    b.destroy();
    for (let i = 1; i <= MAX_UPLOADS_PER_USER + 1; i++) await nothingKept(`per-user-${i}.png`);
  });

  test("a signature before the upload's last data frame is BAD_UPLOAD; nothing is kept", async () => {
    const client = await v2();
    const c = await crafted(3, { name: "early-sig.png", bytes: pngLike(20_000) });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 3 });
    client.write(encodeData(c.ciphertext.subarray(0, 100)));
    client.write(c.signature);
    await expectRefusal(client, "BAD_UPLOAD", true);
    await nothingKept("early-sig.png");
  });

  test("a data frame with no upload waiting for data, and bytes beyond dataSize, are BAD_UPLOAD", async () => {
    const stray = await v2();
    stray.write(encodeData(new Uint8Array([1, 2, 3])));
    await expectRefusal(stray, "BAD_UPLOAD", true);
    const client = await v2();
    const c = await crafted(4, { name: "too-long.png", bytes: pngLike(1000) });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 4 });
    client.write(encodeData(new Uint8Array(c.ciphertext.length + 1)));
    await expectRefusal(client, "BAD_UPLOAD", true);
    await nothingKept("too-long.png");
  });

  test("a signature by another user is BAD_SIGNATURE before anything is kept; the connection stays usable", async () => {
    const client = await v2();
    const c = await crafted(6, { name: "signed-by-carol-v2.png", bytes: pngLike(1000), signer: carol });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 6 });
    client.write(c.data);
    client.write(c.signature);
    const refusal = await expectRefusal(client, "BAD_SIGNATURE", false);
    expect(refusal.upload).toBe(6);
    client.close();
    await nothingKept("signed-by-carol-v2.png");
  });

  /** Upload `upload` whole (data and signature) as crafted by `o`: it is BAD_UPLOAD at the commit, and nothing is kept. */
  async function refusedAtCommit(upload: number, o: CraftOptions): Promise<void> {
    const client = await v2();
    const c = await crafted(upload, o);
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload });
    client.write(c.data);
    client.write(c.signature);
    await expectRefusal(client, "BAD_UPLOAD", true);
    await nothingKept(o.name);
  }

  test("a key wrapped for someone other than the server is BAD_UPLOAD at the commit; nothing is kept", async () => {
    await refusedAtCommit(7, { name: "wrong-key-v2.png", bytes: pngLike(1000), wrapFor: carol.creds.certDer });
  });

  test("version 5's HELLO carries the P-256 storage certificate (version 4's does not); a key wrapped for it by key agreement is POSTED, on a version-2 connection too (P11a, W10)", async () => {
    const helloOf = async (versions: number[]) => {
      const c = await raw(sb, olga);
      c.write(hello(versions));
      const reply = (await c.next()) as Record<string, unknown>;
      c.close();
      return reply;
    };
    const five = await helloOf([1, 2, 3, 4, 5]);
    expect({ type: five.type, version: five.version, cert: typeof five.storageEcdhCertificate }).toEqual({ type: "HELLO", version: 5, cert: "string" });
    const ecdhCert = new Uint8Array(Buffer.from(five.storageEcdhCertificate as string, "base64"));
    const four = await helloOf([1, 2, 3, 4]);
    expect(four).toMatchObject({ type: "HELLO", version: 4 });
    expect("storageEcdhCertificate" in four).toBe(false);
    const client = await v2();
    const c = await crafted(21, { name: "ecdh-v2.png", bytes: pngLike(3000, 5), wrapEcdhFor: ecdhCert });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 21 });
    client.write(c.data);
    client.write(c.signature);
    expect(await next(client)).toMatchObject({ type: "POSTED", upload: 21 });
    client.close();
    expect(await listedNames(carol)).toContain("olga/ecdh-v2.png");
  });

  test("a key wrapped by key agreement for a P-256 key that is not the server's is BAD_UPLOAD at the commit; nothing is kept (W9)", async () => {
    const other = await (await CertificateAuthority.load(await createCa())).issueStorageEcdhCert();
    await refusedAtCommit(22, { name: "wrong-ecdh.png", bytes: pngLike(1000), wrapEcdhFor: fromPem(other.certPem, "CERTIFICATE") });
  });

  test("an upload whose signature never comes ends the connection with TIMEOUT, PINGs or not; nothing is kept", async () => {
    const client = await v2();
    const c = await crafted(8, { name: "no-sig.png", bytes: pngLike(1000) });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 8 });
    client.write(c.data);
    const pinger = setInterval(() => client.write(encodeMessage({ type: "PING" })), 200);
    try {
      for (;;) {
        const reply = await client.next(30_000);
        if (reply === null) throw new Error("closed without TIMEOUT");
        if (reply.type === "PONG") continue;
        expect(reply).toMatchObject({ type: "ERROR", code: "TIMEOUT" });
        break;
      }
    } finally {
      clearInterval(pinger);
    }
    await client.closed;
    await nothingKept("no-sig.png");
  });

  test("a connection closed between the data and the signature keeps nothing", async () => {
    const client = await v2();
    const c = await crafted(9, { name: "closed-before-sig.png", bytes: pngLike(1000) });
    client.write(c.post);
    expect(await next(client)).toEqual({ type: "UPLOAD_READY", upload: 9 });
    client.write(c.data);
    client.write(encodeMessage({ type: "PING" }));
    expect((await next(client)).type).toBe("PONG"); // the data frames were handled before the PING
    client.destroy();
    await nothingKept("closed-before-sig.png");
  });
});
