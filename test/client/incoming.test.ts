/**
 * The watcher's side of cut-through delivery (PROTOCOL.md P41–P47) against what a hostile or
 * broken server may push: real keys (registered on a real server), real envelopes, real files.
 * Whatever is wrong, the partial is removed and no file becomes visible.
 */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4).
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { cipherSize, encodeHeader, generateContentKey, newHeader, sealStream, wrapKey } from "../../src/crypto/index.ts";
import { IncomingDeliveries } from "../../src/client/incoming.ts";
import { MAX_INCOMING, toBase64, type ImageMeta, type ServerMessageOf } from "../../src/protocol/index.ts";
import { tempDir } from "../support/cli.ts";
import { listFiles } from "../support/share.ts";
import { pngLike, sandboxForFile, until, type User } from "../support/security-kit.ts";

let walt: User;
sandboxForFile(["walt"], (_sb, [walt_]) => {
  walt = walt_;
});

let n = 0;
/** An INCOMING for walt and its ciphertext, made with the real crypto; `fields` may lie. */
async function delivery(name: string, size: number, fields: Partial<ServerMessageOf<"INCOMING">> = {}) {
  const k = ++n; // taken now: several are made at once
  const bytes = pngLike(size, k);
  const header = newHeader({ owner: "olga", name, contentType: "image/png", size });
  const key = generateContentKey();
  const chunks: Uint8Array[] = [];
  for await (const c of sealStream(key, header, (async function* () { yield bytes; })())) chunks.push(c);
  const ciphertext = new Uint8Array(Buffer.concat(chunks));
  const id = k.toString(16).padStart(32, "0");
  const incoming: ServerMessageOf<"INCOMING"> = {
    type: "INCOMING", delivery: k, id, owner: "olga", name, contentType: "image/png", size, dataSize: cipherSize(size),
    header: toBase64(encodeHeader(header)), wrappedKey: toBase64(await wrapKey(key, walt.creds.certDer)), ...fields,
  };
  const meta: ImageMeta = { seq: k, id, owner: "olga", name, size, contentType: "image/png", createdAt: 1 };
  // A placeholder signature: these tests never reach the signature check.
  const delivered: ServerMessageOf<"DELIVERED"> = { type: "DELIVERED", delivery: incoming.delivery, image: meta, signature: "AAAA" };
  return { incoming, ciphertext, meta, delivered };
}

/** Hidden partial files and visible files under `dir`. */
async function files(dir: string): Promise<string[]> {
  return listFiles(dir);
}

describe("cut-through partials (P41–P47)", () => {
  test("a complete delivery becomes a hidden partial only; DROPPED removes it; nothing is visible", async () => {
    using out = tempDir("sis-incoming-");
    const d = new IncomingDeliveries(walt.creds, out, () => {});
    const x = await delivery("dropped.png", 200_000);
    d.incoming(x.incoming);
    d.data(x.incoming.delivery, x.ciphertext.subarray(0, 100_000));
    await until(async () => (await files(out)).length === 1, "the partial file");
    expect((await files(out))[0]).toMatch(/^olga\/\.sis-partial-[0-9a-f]+$/);
    d.dropped({ type: "DROPPED", delivery: x.incoming.delivery, reason: "FAILED" });
    await until(async () => (await files(out)).length === 0, "the partial to be removed");
  });

  test("a delivered image is taken by the catch-up only with exactly the metadata DELIVERED gave", async () => {
    using out = tempDir("sis-incoming-");
    let told = 0;
    const d = new IncomingDeliveries(walt.creds, out, () => told++);
    const x = await delivery("taken.png", 300_000);
    d.incoming(x.incoming);
    d.data(x.incoming.delivery, x.ciphertext);
    d.delivered(x.delivered);
    expect(told).toBe(1);
    // Its hidden file exists before it is given up (its key unwraps first): else the wait for
    // its removal below could pass before the file was made, and see it appear later.
    await until(async () => (await files(out)).length === 1, "the first partial's file");
    expect(await d.take({ ...x.meta, seq: x.meta.seq + 1 })).toBeNull(); // another seq: not this delivery; it is given up
    await until(async () => (await files(out)).length === 0, "the partial to be removed");
    const y = await delivery("taken-2.png", 300_000);
    d.incoming(y.incoming);
    d.data(y.incoming.delivery, y.ciphertext);
    d.delivered(y.delivered);
    const partial = await d.take(y.meta);
    expect(partial).not.toBeNull();
    await partial!.done;
    expect(partial!.failed).toBe(false);
    await partial!.discard();
    expect(await files(out)).toEqual([]);
  });

  test("more data than announced, a short delivery, a DELIVERED for another image: given up, the partial removed", async () => {
    using out = tempDir("sis-incoming-");
    const d = new IncomingDeliveries(walt.creds, out, () => {});
    const long = await delivery("long.png", 100_000);
    d.incoming(long.incoming);
    d.data(long.incoming.delivery, long.ciphertext);
    d.data(long.incoming.delivery, new Uint8Array(10));
    d.delivered(long.delivered);
    const short = await delivery("short.png", 100_000);
    d.incoming(short.incoming);
    d.data(short.incoming.delivery, short.ciphertext.subarray(0, 50_000));
    d.delivered(short.delivered);
    const other = await delivery("other.png", 100_000);
    d.incoming(other.incoming);
    d.data(other.incoming.delivery, other.ciphertext);
    d.delivered({ ...other.delivered, image: { ...other.meta, id: "f".repeat(32) } });
    for (const x of [long, short, other]) expect(await d.take(x.meta)).toBeNull();
    await until(async () => (await files(out)).length === 0, "every partial to be removed");
  });

  test("an INCOMING with an unsafe name or a header that does not match writes nothing", async () => {
    using out = tempDir("sis-incoming-");
    const d = new IncomingDeliveries(walt.creds, out, () => {});
    const unsafe = await delivery("unsafe.png", 1000, { name: "../escape.png" });
    const lying = await delivery("lying.png", 1000, { size: 999 });
    for (const x of [unsafe, lying]) {
      d.incoming(x.incoming);
      d.data(x.incoming.delivery, x.ciphertext);
      d.delivered(x.delivered);
    }
    await Bun.sleep(200); // nothing would show up later either: the checks run before any file is made
    expect(await files(out)).toEqual([]);
    await d.discardAll();
    expect(await files(out)).toEqual([]);
  });

  test("every chunk of push data is given back: written, dropped, too long, given up, of an unknown delivery (the connection reads on only then)", async () => {
    using out = tempDir("sis-incoming-");
    const d = new IncomingDeliveries(walt.creds, out, () => {});
    let handed = 0;
    let released = 0;
    const feed = (delivery: number, bytes: Uint8Array, pieces = 4) => {
      const step = Math.ceil(bytes.length / pieces);
      for (let at = 0; at < bytes.length; at += step) {
        handed++;
        let once = false;
        d.data(delivery, bytes.subarray(at, at + step), () => {
          expect(once).toBe(false); // given back twice would hand a reused buffer to two payloads
          once = true;
          released++;
        });
      }
    };
    const whole = await delivery("released-whole.png", 300_000);
    d.incoming(whole.incoming);
    feed(whole.incoming.delivery, whole.ciphertext);
    d.delivered(whole.delivered);
    const taken = await d.take(whole.meta);
    await taken!.done;
    expect(taken!.failed).toBe(false);
    expect(released).toBe(handed);
    await taken!.discard();
    const dropped = await delivery("released-dropped.png", 300_000);
    d.incoming(dropped.incoming);
    feed(dropped.incoming.delivery, dropped.ciphertext.subarray(0, 200_000));
    d.dropped({ type: "DROPPED", delivery: dropped.incoming.delivery, reason: "BEHIND" });
    const long = await delivery("released-long.png", 100_000);
    d.incoming(long.incoming);
    feed(long.incoming.delivery, long.ciphertext);
    feed(long.incoming.delivery, new Uint8Array(1000), 1);
    const lying = await delivery("released-lying.png", 100_000, { size: 99_999 }); // never opened: its header does not match
    d.incoming(lying.incoming);
    feed(lying.incoming.delivery, lying.ciphertext);
    feed(12_345_678, new Uint8Array(1000), 1);
    await until(() => released === handed, "every chunk to be given back");
    await d.discardAll();
    expect(released).toBe(handed);
    expect(await files(out)).toEqual([]);
  });

  test(`at most ${MAX_INCOMING} deliveries under way: a further INCOMING and its data are ignored; discardAll removes every partial`, async () => {
    using out = tempDir("sis-incoming-");
    const d = new IncomingDeliveries(walt.creds, out, () => {});
    const all = await Promise.all(Array.from({ length: MAX_INCOMING + 1 }, (_, i) => delivery(`window-${i}.png`, 100_000)));
    for (const x of all) {
      d.incoming(x.incoming);
      d.data(x.incoming.delivery, x.ciphertext.subarray(0, 1000));
    }
    await until(async () => (await files(out)).length === MAX_INCOMING, `${MAX_INCOMING} partial files`);
    await Bun.sleep(200);
    expect(await files(out)).toHaveLength(MAX_INCOMING);
    await d.discardAll();
    expect(await files(out)).toEqual([]);
  });

  test("on version 4 a delivery dropped BEHIND is kept (halted, its prefix decrypted) for the catch-up; FAILED, or BEHIND on version 3, removes it; at most MAX_INCOMING are kept", async () => {
    using out = tempDir("sis-incoming-");
    const lines: string[] = [];
    const d = new IncomingDeliveries(walt.creds, out, () => {}, undefined, (l) => lines.push(l), true);
    const behind = await delivery("kept-behind.png", 300_000);
    d.incoming(behind.incoming);
    d.data(behind.incoming.delivery, behind.ciphertext.subarray(0, 150_000));
    d.dropped({ type: "DROPPED", delivery: behind.incoming.delivery, reason: "BEHIND" });
    d.data(behind.incoming.delivery, behind.ciphertext.subarray(150_000)); // nothing more is taken after DROPPED
    expect(lines).toEqual(["olga/kept-behind.png: the server dropped its cut-through delivery (BEHIND); it will be resumed"]);
    const failed = await delivery("failed.png", 300_000);
    d.incoming(failed.incoming);
    d.data(failed.incoming.delivery, failed.ciphertext.subarray(0, 150_000));
    d.dropped({ type: "DROPPED", delivery: failed.incoming.delivery, reason: "FAILED" });
    expect(lines.at(-1)).toBe("olga/failed.png: the server dropped its cut-through delivery (FAILED); it will be downloaded");
    await until(async () => (await files(out)).length === 1, "only the BEHIND partial to stay");
    const taken = await d.take(behind.meta);
    expect(taken?.halted).toBe(true);
    expect(taken?.received).toBe(150_000);
    expect(taken?.failed).toBe(false);
    await taken!.discard();
    expect(await d.take(failed.meta)).toBeNull();

    // More than MAX_INCOMING dropped: the oldest goes.
    const many = await Promise.all(Array.from({ length: MAX_INCOMING + 1 }, (_, i) => delivery(`behind-${i}.png`, 100_000)));
    for (const x of many) {
      d.incoming(x.incoming);
      d.data(x.incoming.delivery, x.ciphertext.subarray(0, 1000));
      d.dropped({ type: "DROPPED", delivery: x.incoming.delivery, reason: "BEHIND" });
    }
    await until(async () => (await files(out)).length === MAX_INCOMING, `${MAX_INCOMING} kept partials`);
    expect(await d.take(many[0]!.meta)).toBeNull();
    const second = await d.take(many[1]!.meta);
    expect(second?.halted).toBe(true);
    await second!.discard();
    await d.discardAll();
    await until(async () => (await files(out)).length === 0, "every partial to be removed");

    const v3 = new IncomingDeliveries(walt.creds, out, () => {});
    const old = await delivery("behind-v3.png", 100_000);
    v3.incoming(old.incoming);
    v3.data(old.incoming.delivery, old.ciphertext.subarray(0, 1000));
    v3.dropped({ type: "DROPPED", delivery: old.incoming.delivery, reason: "BEHIND" });
    expect(await v3.take(old.meta)).toBeNull();
    await until(async () => (await files(out)).length === 0, "the version-3 partial to be removed");
  });
});
