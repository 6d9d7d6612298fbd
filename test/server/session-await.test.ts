/** A session while a handler awaits the store or the disk (ports.ts): one request at a time, nothing leaked or written after a close. Real TLS. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { concat } from "../support/bytes.ts";
import { encodeMessage, MAX_UPLOADS_PER_USER } from "../../src/protocol/index.ts";
import type { BlobStore, Store } from "../../src/server/ports.ts";
import type { Session } from "../../src/server/session.ts";
import {
  craftPost, pngLike, raw, rawHello, sandboxForFile, storageCert, tmpFiles, until, type Sandbox, type User,
} from "../support/security-kit.ts";

let sb: Sandbox;
let iris: User;
let vera: User;
let tess: User;
// A short revocation check so that the server ends a revoked session within the test.
sandboxForFile(["iris", "vera", "tess"], (box, [iris_, vera_, tess_]) => {
  sb = box;
  iris = iris_;
  vera = vera_;
  tess = tess_;
}, { revocationCheckMs: 200 });

/** A door a handler's call waits at: `entered` settles when the call arrives, open() lets it through. */
function gate() {
  let entered!: () => void;
  let open!: () => void;
  const arrived = new Promise<void>((resolve) => (entered = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { arrived, opened, entered, open };
}

/** Holds every call of store[method] at a gate until it is opened; returns the gate and a restore function. */
function holdStore<M extends "listImages" | "findCert">(method: M) {
  const store = sb.server.context.store as Store;
  const real = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
  const g = gate();
  (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    g.entered();
    await g.opened;
    return real(...args);
  };
  return { ...g, restore: () => delete (store as unknown as Record<string, unknown>)[method] };
}

describe("a session whose handler awaits", () => {
  test("frames that arrive while a handler awaits the store are handled after it, in order", async () => {
    const held = holdStore("listImages");
    try {
      const { client } = await rawHello(sb, iris);
      // Both requests in one write: the PING is in the server's hands while LIST waits for the store.
      client.write(concat([encodeMessage({ type: "LIST" }), encodeMessage({ type: "PING" })]));
      await held.arrived;
      held.open();
      expect((await client.next())?.type).toBe("IMAGES");
      expect(await client.next()).toEqual({ type: "PONG" });
      client.close();
    } finally {
      held.restore();
    }
  });

  test("the HELLO is answered once the certificate presented in the handshake has been identified", async () => {
    const held = holdStore("findCert");
    try {
      const client = await raw(sb, iris);
      const reply = client.hello();
      await held.arrived;
      held.open();
      expect(await reply).toMatchObject({ type: "HELLO", user: "iris", serial: iris.creds.profile.serial });
      client.close();
    } finally {
      held.restore();
    }
  });

  test("a connection closed while POST_IMAGE awaits the disk keeps no upload slot and no temporary file", async () => {
    const ctx = sb.server.context;
    const blobs = ctx.blobs;
    const g = gate();
    let created = false;
    const slow: BlobStore = {
      create: async (id) => {
        g.entered();
        await g.opened;
        const writer = await blobs.create(id);
        created = true;
        return writer;
      },
      read: (id, size) => blobs.read(id, size),
      open: (id, from) => blobs.open(id, from),
      remove: (id) => blobs.remove(id),
      sweep: (keep) => blobs.sweep(keep),
    };
    ctx.blobs = slow;
    try {
      await until(() => ctx.metrics.connections === 0, "the earlier tests' connections to be released");
      const { client, hello } = await rawHello(sb, tess);
      const { message } = await craftPost(tess, storageCert(hello), { name: "left-early.png", bytes: pngLike(5_000) });
      client.write(encodeMessage(message));
      await g.arrived;
      client.close();
      await client.closed;
      await until(() => ctx.metrics.connections === 0, "the session to be released");
      g.open();
      await until(() => created, "the blob writer to be created");
      await until(() => tmpFiles(sb).length === 0, "the temporary file to be removed");
      for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) expect(ctx.hub.beginUpload("tess", MAX_UPLOADS_PER_USER)).toBe(true);
      for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) ctx.hub.endUpload("tess");
    } finally {
      ctx.blobs = blobs;
    }
  });

  test("a session the server ends while a handler awaits sends nothing after its ERROR (P5a)", async () => {
    const ctx = sb.server.context;
    const sessions: Session[] = [];
    const subscribe = ctx.hub.subscribe.bind(ctx.hub);
    ctx.hub.subscribe = (s) => {
      sessions.push(s as Session);
      subscribe(s);
    };
    const held = holdStore("listImages");
    try {
      const { client } = await rawHello(sb, vera);
      const session = sessions.find((s) => s.identity?.username === "vera")!;
      expect(session).toBeDefined();
      const late: Uint8Array[] = [];
      const send = session.outbox.send.bind(session.outbox);
      session.outbox.send = (bytes) => {
        if (session.closed) late.push(bytes);
        send(bytes);
      };
      // The handler's reply to LIST goes through here (peer.ts); the session drops it once closed.
      let replied = false;
      const sendControl = session.sendControl.bind(session);
      session.sendControl = (frame) => {
        replied = true;
        sendControl(frame);
      };
      client.write(encodeMessage({ type: "LIST" }));
      await held.arrived;
      // Revoked meanwhile: the revocation watch ends the session while LIST waits for the store.
      expect(await ctx.store.revokeUser("vera", Date.now())).toBe(1);
      expect(await client.next()).toMatchObject({ type: "ERROR", code: "CERT_REVOKED" });
      expect(session.closed).toBe(true);
      held.open();
      await until(() => replied, "the held LIST to resume and reply");
      expect(late).toEqual([]);
      expect(await client.next()).toBeNull();
    } finally {
      held.restore();
      ctx.hub.subscribe = subscribe;
    }
  });
});
