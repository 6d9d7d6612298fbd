/**
 * A watcher's memory for a cut-through delivery is bounded by its connection (PROTOCOL.md P44):
 * while the partials hold PUSH_HIGH bytes of push data unwritten, the connection stops reading,
 * whatever the image's size; once they are released it reads on and the delivery ends. Real
 * server, real TLS, a real upload of 32 MiB.
 */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4).
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { PUSH_HIGH, type IncomingListener } from "../../src/client/connection.ts";
import { connectAs } from "../../src/client/session.ts";
import { encodeData, encodeMessage, MAX_DATA_FRAME, type ServerMessage, type ServerMessageOf } from "../../src/protocol/index.ts";
import type { RawClient } from "../support/raw-client.ts";
import { craftPost, pngLike, raw, rawHello, sandboxForFile, storageCert, until, type Sandbox, type User } from "../support/security-kit.ts";

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
/** What may arrive past PUSH_HIGH before the pause takes: the frames of the socket reads already under way. */
const SLACK = 2 * MiB;

let sb: Sandbox;
let olga: User;
let walt: User;
let storage: Uint8Array;
sandboxForFile(["olga", "walt"], async (box, [olga_, walt_]) => {
  sb = box;
  olga = olga_; walt = walt_;
  const { client, hello } = await rawHello(sb, olga);
  storage = storageCert(hello);
  client.close();
}, { maxImageSize: 64 * MiB });

async function reply(client: RawClient, type: string): Promise<ServerMessage> {
  for (;;) {
    const m = await client.next(60_000);
    if (m === null) throw new Error("the server closed the connection");
    if (m.type === type || m.type === "ERROR") return m;
  }
}

/** A listener that keeps every chunk unreleased until told, and counts what it holds. */
class Holder implements IncomingListener {
  held: Array<() => void> = [];
  heldBytes = 0;
  maxHeld = 0;
  received = 0;
  keep = true;
  announced: ServerMessageOf<"INCOMING"> | null = null;
  ended: ServerMessage | null = null;
  incoming(m: ServerMessageOf<"INCOMING">): void {
    this.announced = m;
  }
  data(_delivery: number, bytes: Uint8Array, release: () => void): void {
    this.received += bytes.length;
    if (!this.keep) return release();
    this.held.push(release);
    this.heldBytes += bytes.length;
    this.maxHeld = Math.max(this.maxHeld, this.heldBytes);
  }
  delivered(m: ServerMessageOf<"DELIVERED">): void {
    this.ended = m;
  }
  dropped(m: ServerMessageOf<"DROPPED">): void {
    this.ended = m;
  }
  releaseAll(): void {
    this.keep = false;
    for (const release of this.held.splice(0)) release();
    this.heldBytes = 0;
  }
}

describe("push data backpressure (P44)", () => {
  test(`a watcher that writes nothing holds at most ${PUSH_HIGH / MiB} MiB of a ${SIZE / MiB} MiB delivery; released, it reads on and the delivery ends`, async () => {
    const conn = await connectAs(walt.creds);
    const holder = new Holder();
    conn.onIncoming(holder);
    try {
      await conn.expect({ type: "WATCH_INCOMING" }, "INCOMING_ON");
      const poster = await raw(sb, olga);
      poster.write(encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "backpressure-test", versions: [1, 2] }));
      expect((await poster.next())?.type).toBe("HELLO");
      const { message, ciphertext } = await craftPost(olga, storage, { name: "held.png", bytes: pngLike(SIZE, 3) });
      const { signature, ...fields } = message as typeof message & { signature: string };
      poster.write(encodeMessage({ ...fields, upload: 1 }));
      expect(await reply(poster, "UPLOAD_READY")).toEqual({ type: "UPLOAD_READY", upload: 1 });
      for (let at = 0; at < ciphertext.length; at += MAX_DATA_FRAME) poster.write(encodeData(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
      poster.write(encodeMessage({ type: "POST_SIGNATURE", upload: 1, signature }));
      // The poster is never held up by a watcher that reads nothing (P45).
      expect((await reply(poster, "POSTED")).type).toBe("POSTED");
      poster.close();
      expect(holder.announced?.name).toBe("held.png");
      expect(holder.received).toBeGreaterThan(0);
      // Without the pause the connection would have read (and held) the whole delivery by now.
      expect(holder.maxHeld).toBeLessThanOrEqual(PUSH_HIGH + SLACK);
      expect(holder.received).toBeLessThan(ciphertext.length);
      holder.releaseAll();
      await until(() => holder.ended !== null, "the delivery to end once the data were released");
      const ended = holder.ended!;
      // Dropped as behind by the server (its backlog passed 4 MiB while this one did not read), or all of it.
      if (ended.type === "DROPPED") expect(ended.reason).toBe("BEHIND");
      else expect({ type: ended.type, received: holder.received }).toEqual({ type: "DELIVERED", received: ciphertext.length });
      expect(holder.maxHeld).toBeLessThanOrEqual(PUSH_HIGH + SLACK);
    } finally {
      conn.onIncoming(null);
      conn.close();
    }
  }, 120_000);
});
