/** SECURITY.md, revocation: a revoked certificate loses its open sessions and gets no more keys (P5a), against a real server on 127.0.0.1. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { DATA, encodeData, encodeMessage, MAX_DATA_FRAME } from "../../src/protocol/index.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { SqliteStore } from "../../src/store/index.ts";
import {
  craftPost, expectRefusal, expectStillServing, pngLike, rawHello, registerUser, startSandbox, storageCert, type Sandbox, type User,
} from "../support/security-kit.ts";

// Real TLS, argon2id and RSA keys: generous per-test time on a loaded machine (no timing is asserted).
setDefaultTimeout(30_000);

/** Revokes every certificate of `user` through a second handle on the SQLite file, as `sis admin revoke` does. */
async function revokeElsewhere(sb: Sandbox, user: string): Promise<number> {
  const other = SqliteStore.open(join(sb.root, "data", DATA_FILES.database));
  try {
    return await other.revokeUser(user, Date.now());
  } finally {
    await other.close();
  }
}

/** olga posts one image through a raw connection; returns its id. */
async function postAs(sb: Sandbox, olga: User, name: string): Promise<string> {
  const { client, hello } = await rawHello(sb, olga);
  const { message, ciphertext } = await craftPost(olga, storageCert(hello), { name, bytes: pngLike(3000) });
  client.write(encodeMessage(message));
  expect((await client.next())?.type).toBe("UPLOAD_READY");
  for (let at = 0; at < ciphertext.length; at += MAX_DATA_FRAME) client.write(encodeData(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
  const posted = await client.next();
  client.close();
  if (posted?.type !== "POSTED") throw new Error(`expected POSTED, got ${JSON.stringify(posted)}`);
  return posted.image.id;
}

describe("P5a: the periodic check ends a revoked certificate's open sessions", () => {
  let sb: Sandbox;
  let dan: User;
  let olga: User;
  beforeAll(async () => {
    sb = await startSandbox({ revocationCheckMs: 200 });
    [dan, olga] = await Promise.all([registerUser(sb, "dan"), registerUser(sb, "olga")]);
  }, 60_000);
  afterAll(() => sb[Symbol.asyncDispose](), 30_000);

  test("an idle session of a certificate revoked by another store handle gets a fatal CERT_REVOKED and is closed; others stay", async () => {
    const { client } = await rawHello(sb, dan);
    const { client: bystander } = await rawHello(sb, olga);
    expect(await revokeElsewhere(sb, "dan")).toBe(1);
    // No request from dan: the server says it on its own, then closes.
    const reply = await expectRefusal(client, "CERT_REVOKED", true);
    expect(reply.message).toContain("revoked");
    bystander.write(encodeMessage({ type: "PING" }));
    expect((await bystander.next())?.type).toBe("PONG");
    bystander.close();
    await expectStillServing(sb, olga);
  });
});

describe("P5a: DOWNLOAD asks the store at that moment", () => {
  let sb: Sandbox;
  let dan: User;
  let olga: User;
  beforeAll(async () => {
    // The periodic check is out of the way: only the per-request check can refuse.
    sb = await startSandbox({ revocationCheckMs: 3_600_000 });
    [dan, olga] = await Promise.all([registerUser(sb, "dan"), registerUser(sb, "olga")]);
  }, 60_000);
  afterAll(() => sb[Symbol.asyncDispose](), 30_000);

  test("a session authenticated before the revocation gets no re-wrapped key after it", async () => {
    const id = await postAs(sb, olga, "before.png");
    const { client } = await rawHello(sb, dan);
    client.write(encodeMessage({ type: "DOWNLOAD", id }));
    const image = await client.next();
    if (image?.type !== "IMAGE") throw new Error(`expected IMAGE, got ${JSON.stringify(image)?.slice(0, 300)}`);
    // Read the whole ciphertext, then revoke and ask again on the same connection.
    for (let got = 0; got < image.dataSize; ) {
      const f = await client.frame();
      if (f === null || f.kind !== DATA) throw new Error("the first download did not arrive whole");
      got += f.payload.length;
    }
    expect(await revokeElsewhere(sb, "dan")).toBe(1);
    client.write(encodeMessage({ type: "DOWNLOAD", id }));
    const reply = await expectRefusal(client, "CERT_REVOKED", true);
    expect(reply.message).toContain("revoked");
  });

  test("POST_IMAGE is refused the same way", async () => {
    const { client, hello } = await rawHello(sb, olga);
    expect(await revokeElsewhere(sb, "olga")).toBe(1);
    const { message } = await craftPost(olga, storageCert(hello), { name: "after.png", bytes: pngLike(500) });
    client.write(encodeMessage(message));
    await expectRefusal(client, "CERT_REVOKED", true);
  });
});
