/** SECURITY.md, downloads: hostile DOWNLOAD and LIST requests against a real server on 127.0.0.1 (P23, P24). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { encodeData, encodeMessage, type ClientMessage } from "../../src/protocol/index.ts";
import { controlFrame } from "../support/auth-kit.ts";
import {
  craftPost, expectRefusal, expectStillServing, listedNames, pngLike, rawHello, sandboxForFile, storageCert, type Sandbox, type User,
} from "../support/security-kit.ts";

let sb: Sandbox;
let carol: User;
let olga: User;
sandboxForFile(["carol", "olga"], (box, [carol_, olga_]) => { sb = box; carol = carol_; olga = olga_; });

async function refusedRequest(message: ClientMessage | Uint8Array, code: string, fatal: boolean, user = carol) {
  const { client } = await rawHello(sb, user);
  client.write(message instanceof Uint8Array ? message : encodeMessage(message));
  const reply = await expectRefusal(client, code, fatal);
  client.close();
  await expectStillServing(sb, carol);
  return reply;
}

describe("downloads", () => {
  test("an unknown image id", async () => {
    await refusedRequest({ type: "DOWNLOAD", id: "0".repeat(32) }, "NOT_FOUND", false);
  });

  test("an image id that is a path", async () => {
    // Ids are 32 hex characters by schema; a blob path is only ever built from a server-made id.
    await refusedRequest(controlFrame('{"type":"DOWNLOAD","id":"../../../../etc/passwd"}'), "BAD_MESSAGE", true);
    await refusedRequest(controlFrame(`{"type":"DOWNLOAD","id":"${"0".repeat(31)}/"}`), "BAD_MESSAGE", true);
  });

  test("another owner's name guessed", async () => {
    // Every registered user may receive every image (that is what sis is for), so a name is no secret:
    // a wrong guess gets exactly the answer an unknown id gets, and nothing says whether the owner exists.
    const byId = await refusedRequest({ type: "DOWNLOAD", id: "f".repeat(32) }, "NOT_FOUND", false, olga);
    const guessed = await refusedRequest({ type: "DOWNLOAD", owner: "carol", name: "private-diary.png" }, "NOT_FOUND", false, olga);
    const noOwner = await refusedRequest({ type: "DOWNLOAD", owner: "nobody", name: "x.png" }, "NOT_FOUND", false, olga);
    expect(guessed.message).toBe(byId.message);
    expect(noOwner.message).toBe(byId.message);
  });

  test("a download with both an id and a name", async () => {
    await refusedRequest(controlFrame(`{"type":"DOWNLOAD","id":"${"0".repeat(32)}","owner":"carol","name":"x.png"}`), "BAD_MESSAGE", true);
  });

  test("a download before the upload finished", async () => {
    const { client: uploader, hello } = await rawHello(sb, olga);
    const { message, ciphertext } = await craftPost(olga, storageCert(hello), { name: "in-progress.png", bytes: pngLike(200_000) });
    uploader.write(encodeMessage(message));
    expect((await uploader.next())?.type).toBe("UPLOAD_READY");
    uploader.write(encodeData(ciphertext.subarray(0, 100_000)));
    // From another connection the half-uploaded image does not exist, by name or in the list.
    await refusedRequest({ type: "DOWNLOAD", owner: "olga", name: "in-progress.png" }, "NOT_FOUND", false);
    expect(await listedNames(carol)).not.toContain("olga/in-progress.png");
    // Once the rest arrives it is there.
    uploader.write(encodeData(ciphertext.subarray(100_000)));
    expect((await uploader.next())?.type).toBe("POSTED");
    uploader.close();
    expect(await listedNames(carol)).toContain("olga/in-progress.png");
  });

  test("hostile list cursors", async () => {
    for (const text of [
      '{"type":"LIST","before":0}', '{"type":"LIST","after":-1}', '{"type":"LIST","limit":101}', '{"type":"LIST","limit":0}',
      '{"type":"LIST","before":1.5}', '{"type":"LIST","before":9007199254740993}', '{"type":"LIST","before":5,"after":1}',
    ]) {
      await refusedRequest(controlFrame(text), "BAD_MESSAGE", true);
    }
  });
});
