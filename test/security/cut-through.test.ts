/** SECURITY.md, cut-through delivery: what a watching connection is sent, and hostile frames, against a real server on 127.0.0.1 (PROTOCOL.md P40–P49). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { unwrapKey } from "../../src/crypto/index.ts";
import {
  CONTROL, decodeServerMessage, encodeData, encodeFrame, encodeMessage, fromBase64, MAX_DATA_FRAME, MAX_INCOMING, PUSH_DATA, PUSH_DATA_PREFIX,
  type Frame, type ServerMessage, type ServerMessageOf,
} from "../../src/protocol/index.ts";
import type { RawClient } from "../support/raw-client.ts";
import { craftPost, expectRefusal, expectStillServing, pngLike, raw, rawHello, sandboxForFile, announcedStorageCert, type Sandbox, type User } from "../support/security-kit.ts";

let sb: Sandbox;
let carol: User;
let olga: User;
let walt: User;
let storage: Uint8Array;
sandboxForFile(["carol", "olga", "walt"], async (box, [carol_, olga_, walt_]) => {
  sb = box;
  carol = carol_; olga = olga_; walt = walt_;
  storage = await announcedStorageCert(sb, olga);
}, { maxImageSize: 4 * 1024 * 1024, uploadStallTimeoutMs: 5_000 });

const hello = (versions: number[]) => encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "cut-through-test", versions });

async function agreed(user: User | undefined, versions: number[], expected: number): Promise<RawClient> {
  const client = await raw(sb, user);
  client.write(hello(versions));
  const reply = await client.next();
  if (reply?.type !== "HELLO" || reply.version !== expected) throw new Error(`expected HELLO version ${expected}, got ${JSON.stringify(reply)?.slice(0, 200)}`);
  return client;
}

/** A version-3 connection as `user` that asked for cut-through deliveries. */
async function watcher(user: User): Promise<RawClient> {
  const client = await agreed(user, [1, 2, 3], 3);
  client.write(encodeMessage({ type: "WATCH_INCOMING" }));
  expect(await client.next()).toEqual({ type: "INCOMING_ON", maxIncoming: MAX_INCOMING });
  return client;
}

type Push = { message: ServerMessage } | { delivery: number; bytes: Uint8Array };

/** The next frame as a push: a control message, or push data with its delivery number. */
async function push(client: RawClient, timeoutMs = 10_000): Promise<Push | null> {
  const frame: Frame | null = await client.frame(timeoutMs);
  if (!frame) return null;
  if (frame.kind === CONTROL) return { message: decodeServerMessage(frame.payload) };
  if (frame.kind !== PUSH_DATA) throw new Error(`unexpected frame kind ${frame.kind}`);
  const delivery = new DataView(frame.payload.buffer, frame.payload.byteOffset, 4).getUint32(0, false);
  return { delivery, bytes: frame.payload.slice(PUSH_DATA_PREFIX) };
}

/** A version-2 upload by `poster` (its POST_IMAGE, data frames, POST_SIGNATURE), made with the real crypto. */
async function upload(poster: User, id: number, name: string, size: number, o: { signer?: User; wrapFor?: Uint8Array } = {}) {
  const { message, ciphertext } = await craftPost(poster, storage, { name, bytes: pngLike(size, id & 0xff), ...o });
  const { signature, ...fields } = message as typeof message & { signature: string };
  const frames: Uint8Array[] = [];
  for (let at = 0; at < ciphertext.length; at += MAX_DATA_FRAME) frames.push(encodeData(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
  return { post: encodeMessage({ ...fields, upload: id }), data: new Uint8Array(Buffer.concat(frames)), ciphertext, signature: encodeMessage({ type: "POST_SIGNATURE", upload: id, signature }) };
}

/** Replies to the poster up to the one of `type`, pushes (NEW_IMAGE) skipped. */
async function reply(client: RawClient, type: string): Promise<ServerMessage> {
  for (;;) {
    const m = await client.next();
    if (m === null) throw new Error("the server closed the connection");
    if (m.type === type || m.type === "ERROR") return m;
  }
}

describe("cut-through delivery (P40–P49)", () => {
  test("a watcher gets INCOMING with a key wrapped for it, the exact ciphertext, then DELIVERED with the seq before NEW_IMAGE", async () => {
    const w = await watcher(walt);
    const poster = await agreed(olga, [1, 2], 2);
    const u = await upload(olga, 1, "ct-exact.png", 700_000);
    poster.write(u.post);
    expect(await reply(poster, "UPLOAD_READY")).toEqual({ type: "UPLOAD_READY", upload: 1 });
    // The data go once walt was told: an upload that ends before the receivers' keys are wrapped
    // is announced to nobody (P43), and on a loaded machine the commit can win that race.
    const first = await push(w);
    const incoming = (first as { message: ServerMessageOf<"INCOMING"> }).message;
    poster.write(u.data);
    poster.write(u.signature);
    const posted = await reply(poster, "POSTED");
    expect(posted.type).toBe("POSTED");

    expect(incoming).toMatchObject({ type: "INCOMING", owner: "olga", name: "ct-exact.png", contentType: "image/png", size: 700_000, dataSize: u.ciphertext.length });
    // The key opens with walt's key: re-wrapped for this connection's certificate (P41, P24).
    const key = await unwrapKey(fromBase64(incoming.wrappedKey), walt.creds.keyPkcs8);
    expect(key.length).toBe(32);
    const got: Uint8Array[] = [];
    let next: Push | null;
    for (;;) {
      next = await push(w);
      if (!next || "message" in next) break;
      expect(next.delivery).toBe(incoming.delivery);
      got.push(next.bytes);
    }
    expect(Buffer.compare(Buffer.concat(got), Buffer.from(u.ciphertext))).toBe(0);
    const delivered = (next as { message: ServerMessage }).message as ServerMessageOf<"DELIVERED">;
    expect(delivered.type).toBe("DELIVERED");
    expect(delivered.delivery).toBe(incoming.delivery);
    expect(delivered.image).toEqual((posted as ServerMessageOf<"POSTED">).image);
    expect(delivered.image.id).toBe(incoming.id);
    const after = await push(w);
    expect((after as { message: ServerMessage }).message).toEqual({ type: "NEW_IMAGE", image: delivered.image });
    poster.close();
    w.close();
  });

  test("an upload whose signature is refused ends with DROPPED FAILED, never DELIVERED", async () => {
    const w = await watcher(walt);
    const poster = await agreed(olga, [1, 2, 3], 3);
    const u = await upload(olga, 2, "ct-bad-signature.png", 300_000, { signer: carol });
    poster.write(u.post);
    expect(await reply(poster, "UPLOAD_READY")).toEqual({ type: "UPLOAD_READY", upload: 2 });
    // As above: the data go once walt was told, or the refusal may come before anyone was (P43).
    const first = await push(w);
    expect((first as { message: ServerMessage }).message.type).toBe("INCOMING");
    poster.write(u.data);
    poster.write(u.signature);
    expect(await reply(poster, "POSTED")).toMatchObject({ type: "ERROR", code: "BAD_SIGNATURE", upload: 2 });
    const seen: string[] = ["INCOMING"];
    for (;;) {
      const p = await push(w);
      if (!p) throw new Error("the server closed the watcher");
      if ("message" in p) {
        seen.push(p.message.type);
        if (p.message.type === "DROPPED") {
          expect(p.message.reason).toBe("FAILED");
          break;
        }
      }
    }
    expect(seen).toEqual(["INCOMING", "DROPPED"]);
    // Nothing more about it: no DELIVERED, no NEW_IMAGE.
    w.write(encodeMessage({ type: "PING" }));
    expect((await push(w))).toEqual({ message: { type: "PONG" } });
    poster.close();
    w.close();
  });

  test("an upload whose key is not wrapped for the server is announced to nobody", async () => {
    const w = await watcher(walt);
    const poster = await agreed(olga, [1, 2, 3], 3);
    const u = await upload(olga, 3, "ct-bad-key.png", 100_000, { wrapFor: walt.creds.certDer });
    poster.write(u.post);
    expect(await reply(poster, "UPLOAD_READY")).toEqual({ type: "UPLOAD_READY", upload: 3 });
    poster.write(u.data);
    poster.write(u.signature);
    expect(await reply(poster, "POSTED")).toMatchObject({ type: "ERROR", code: "BAD_UPLOAD" });
    w.write(encodeMessage({ type: "PING" }));
    expect(await push(w)).toEqual({ message: { type: "PONG" } });
    w.close();
  });

  test(`a watcher is in at most ${MAX_INCOMING} deliveries at a time; the others are not announced to it`, async () => {
    const w = await watcher(walt);
    const posters = [await agreed(olga, [1, 2, 3], 3), await agreed(carol, [1, 2, 3], 3)];
    // Three uploads on each connection, started and never finished: six under way at once.
    for (const [i, p] of posters.entries()) {
      const user = i === 0 ? olga : carol;
      for (let k = 1; k <= 3; k++) {
        const u = await upload(user, 10 + k, `ct-window-${k}.png`, 1000);
        p.write(u.post);
        expect(await reply(p, "UPLOAD_READY")).toMatchObject({ type: "UPLOAD_READY" });
      }
    }
    const announced: number[] = [];
    for (;;) {
      const p = await push(w, 1_500).catch(() => null);
      if (!p) break;
      if ("message" in p && p.message.type === "INCOMING") announced.push(p.message.delivery);
    }
    expect(announced).toHaveLength(MAX_INCOMING);
    for (const p of posters) p.destroy();
    // The aborted uploads end their deliveries (DROPPED FAILED) and free the watcher's room.
    const dropped = new Set<number>();
    while (dropped.size < MAX_INCOMING) {
      const p = await push(w);
      if (!p) throw new Error("the server closed the watcher");
      if ("message" in p && p.message.type === "DROPPED") dropped.add(p.message.delivery);
    }
    expect([...dropped].sort()).toEqual([...announced].sort());
    w.close();
  });

  test("push data from a client is BAD_FRAME (fatal), on version 3 too", async () => {
    const client = await agreed(olga, [1, 2, 3], 3);
    const payload = new Uint8Array(PUSH_DATA_PREFIX + 16);
    client.write(encodeFrame(PUSH_DATA, payload));
    await expectRefusal(client, "BAD_FRAME", true);
    await expectStillServing(sb, carol);
  });

  test("WATCH_INCOMING on a version-2 connection is UNKNOWN_MESSAGE, as on a server of version 2; anonymous it is AUTH_REQUIRED", async () => {
    const v2 = await agreed(olga, [1, 2], 2);
    v2.write(encodeMessage({ type: "WATCH_INCOMING" }));
    await expectRefusal(v2, "UNKNOWN_MESSAGE", true);
    const anonymous = await agreed(undefined, [1, 2, 3], 3);
    anonymous.write(encodeMessage({ type: "WATCH_INCOMING" }));
    await expectRefusal(anonymous, "AUTH_REQUIRED", false);
    anonymous.close();
  });
});
