/** SECURITY.md, resources: slow, idle, greedy and vanishing clients, and a full disk, against a real server on 127.0.0.1. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteError } from "../../src/client/errors.ts";
import { postImage } from "../../src/client/post.ts";
import { connectAs } from "../../src/client/session.ts";
import { encodeData, encodeMessage, MAX_UPLOADS_PER_USER } from "../../src/protocol/index.ts";
import type { BlobStore } from "../../src/server/ports.ts";
import type { Session } from "../../src/server/session.ts";
import { helloFrame } from "../support/auth-kit.ts";
import type { RawClient } from "../support/raw-client.ts";
import {
  craftPost, expectRefusal, expectSafeMessage, expectStillServing, listedNames, pngLike, raw, rawHello, sandboxForFile, storageCert,
  tmpFiles, until, type Sandbox, type User,
} from "../support/security-kit.ts";

/** Short deadlines so the timeout rows run in seconds; the defaults are 10 s, 120 s and 30 s. */
const SHORT = 1_500;
const PER_ADDRESS = 20;

let quick: Sandbox;
let strict: Sandbox;
let carolQ: User;
let carol: User;
let olga: User;
sandboxForFile(["carol"], (box, [carolQ_]) => { quick = box; carolQ = carolQ_; }, { handshakeTimeoutMs: SHORT, idleTimeoutMs: SHORT, uploadStallTimeoutMs: SHORT });
sandboxForFile(["carol", "olga"], (box, [carol_, olga_]) => { strict = box; carol = carol_; olga = olga_; }, { maxConnectionsPerAddress: PER_ADDRESS });

/** Writes `bytes` one at a time, one every `everyMs`, until done or the server closes; returns how many were sent. */
async function trickle(client: RawClient, bytes: Uint8Array, everyMs: number): Promise<number> {
  let closed = false;
  void client.closed.then(() => (closed = true));
  let sent = 0;
  for (const byte of bytes) {
    if (closed) break;
    client.write(new Uint8Array([byte]));
    sent++;
    // The pacing is the attack itself; the server's close ends it early.
    await Promise.race([Bun.sleep(everyMs), client.closed]);
  }
  return sent;
}

/** Starts an upload on `sb` as `user` and sends `part` of its ciphertext; returns the open client. */
async function halfUpload(sb: Sandbox, user: User, name: string, size = 200_000, part = 0.5) {
  const { client, hello } = await rawHello(sb, user);
  const { message, ciphertext } = await craftPost(user, storageCert(hello), { name, bytes: pngLike(size) });
  client.write(encodeMessage(message));
  const ready = await client.next();
  if (ready?.type !== "UPLOAD_READY") throw new Error(`expected UPLOAD_READY, got ${JSON.stringify(ready)?.slice(0, 300)}`);
  const cut = Math.floor(ciphertext.length * part);
  client.write(encodeData(ciphertext.subarray(0, cut)));
  return { client, rest: ciphertext.subarray(cut) };
}

/** A real post through the client modules: the server takes uploads again. */
async function postSucceeds(sb: Sandbox, user: User, name: string): Promise<void> {
  const path = join(sb.root, name);
  writeFileSync(path, pngLike(5_000));
  const conn = await connectAs(user.creds);
  try {
    const { image } = await postImage(conn, user.creds, path, { keepMetadata: true });
    expect(image.name).toBe(name);
  } finally {
    conn.close();
  }
}

describe("resources", () => {
  test("a slow client that sends one byte every 200 ms", async () => {
    // A whole HELLO would take ~15 s at this pace; the handshake deadline is 1.5 s and only whole frames move it.
    const client = await raw(quick);
    const hello = helloFrame();
    const verdict = client.next(30_000);
    const sent = await trickle(client, hello, 200);
    expect(sent).toBeLessThan(hello.length);
    const reply = await verdict;
    expect(reply).toMatchObject({ type: "ERROR", code: "TIMEOUT" });
    expectSafeMessage((reply as { message: string }).message);
    await client.closed;
    await expectStillServing(quick, carolQ);
  }, 30_000);

  test("a slow client after the hello, trickling a request", async () => {
    const { client } = await rawHello(quick, carolQ);
    const ping = new Uint8Array(Buffer.concat([encodeMessage({ type: "PING" }), encodeMessage({ type: "PING" })]));
    const verdict = client.next(30_000);
    const sent = await trickle(client, ping, 200);
    expect(sent).toBeLessThan(ping.length);
    expect(await verdict).toMatchObject({ type: "ERROR", code: "TIMEOUT" });
    await client.closed;
    await expectStillServing(quick, carolQ);
  }, 30_000);

  test("an idle authenticated connection", async () => {
    const { client } = await rawHello(quick, carolQ);
    expect(await client.next(30_000)).toMatchObject({ type: "ERROR", code: "TIMEOUT" });
    await client.closed;
    await expectStillServing(quick, carolQ);
  }, 30_000);

  test("an upload that stalls", async () => {
    const { client } = await halfUpload(quick, carolQ, "stalled.png");
    expect(await client.next(30_000)).toMatchObject({ type: "ERROR", code: "TIMEOUT" });
    await client.closed;
    await until(() => tmpFiles(quick).length === 0, "the temporary file to be removed");
    expect(await listedNames(carolQ)).not.toContain("carol/stalled.png");
    await expectStillServing(quick, carolQ);
  }, 30_000);

  test("a client that pipelines requests and never reads the replies", async () => {
    // The replies pile up in the server's outbox unless it stops reading; then the idle deadline ends the connection.
    const ctx = quick.server.context;
    const sessions: Session[] = [];
    const subscribe = ctx.hub.subscribe.bind(ctx.hub);
    ctx.hub.subscribe = (s) => {
      sessions.push(s as Session);
      subscribe(s);
    };
    let maxBacklog = 0;
    let closed = false;
    let drained: (() => void) | null = null;
    const socket = await new Promise<Awaited<ReturnType<typeof Bun.connect>>>((resolve, reject) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port: quick.port,
        tls: { rejectUnauthorized: false, cert: carolQ.creds.certPem, key: carolQ.creds.keyPem },
        socket: {
          handshake: (s) => resolve(s),
          data: (s) => void s.pause(),
          drain: () => drained?.(),
          close: () => {
            closed = true;
            drained?.();
          },
          connectError: (_s, e) => reject(e),
          error: () => {},
        },
      }).catch(reject);
    });
    try {
      socket.write(helloFrame());
      await until(() => sessions.length === 1, "the session to say HELLO");
      const session = sessions[0]!;
      const send = session.outbox.send.bind(session.outbox);
      session.outbox.send = (bytes) => {
        send(bytes);
        maxBacklog = Math.max(maxBacklog, session.outbox.backlog);
      };
      socket.pause();
      // 64 MiB of PINGs (3.4 million requests), written as fast as TCP lets us, until the server hangs up.
      const burst = new Uint8Array(Buffer.concat(Array.from({ length: 10_000 }, () => encodeMessage({ type: "PING" }))));
      let written = 0;
      while (!closed && written < 64 * 1024 * 1024) {
        let at = 0;
        while (at < burst.length && !closed) {
          const n = socket.write(burst.subarray(at));
          at += Math.max(0, n);
          written += Math.max(0, n);
          if (n < burst.length - (at - n)) await new Promise<void>((r) => (drained = r));
        }
      }
      expect(closed).toBe(true);
      expect(written).toBeLessThan(64 * 1024 * 1024);
      // Bounded by the outbox high mark plus one reply, however much was sent.
      expect(maxBacklog).toBeLessThan(4 * 1024 * 1024);
    } finally {
      ctx.hub.subscribe = subscribe;
      socket.terminate();
    }
    await expectStillServing(quick, carolQ);
  }, 60_000);

  test("thousands of idle connections from one address", async () => {
    const held: RawClient[] = [];
    for (let i = 0; i < PER_ADDRESS; i++) held.push(await raw(strict));
    // 1,000 more from the same address: each refused at once, none counted.
    let refused = 0;
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, async () => {
        const client = await raw(strict);
        const reply = await client.next();
        await client.closed;
        return reply;
      }));
      for (const reply of answers) {
        expect(reply).toMatchObject({ type: "ERROR", code: "TOO_MANY_CONNECTIONS" });
        expectSafeMessage((reply as { message: string }).message);
        refused++;
      }
    }
    expect(refused).toBe(1_000);
    // The held connections are still there and still work.
    const first = held[0]!;
    first.write(helloFrame());
    expect((await first.next())?.type).toBe("HELLO");
    for (const client of held) client.close();
    await Promise.all(held.map((c) => c.closed));
    // Released on close: the address gets its slots back.
    await until(() => strict.server.context.metrics.connections === 0, "the held connections to be released");
    await expectStillServing(strict, carol);
  }, 120_000);

  test("many concurrent unfinished uploads from one user", async () => {
    const uploads = [];
    for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) uploads.push(await halfUpload(strict, olga, `pending-${i}.png`));
    const { client, hello } = await rawHello(strict, olga);
    const { message } = await craftPost(olga, storageCert(hello), { name: "one-too-many.png", bytes: pngLike(1_000) });
    client.write(encodeMessage(message));
    await expectRefusal(client, "BUSY", false);
    client.close();
    expect(tmpFiles(strict).length).toBe(MAX_UPLOADS_PER_USER);
    // The clients disappear: their slots and temporary files are released, and posting works again.
    for (const u of uploads) u.client.close();
    await Promise.all(uploads.map((u) => u.client.closed));
    await until(() => tmpFiles(strict).length === 0, "the temporary files to be removed");
    await postSucceeds(strict, olga, "after-busy.png");
    expect(await listedNames(carol)).not.toContain("olga/pending-0.png");
    await expectStillServing(strict, carol);
  });

  test("a client that disappears mid-upload", async () => {
    const { client } = await halfUpload(strict, olga, "vanished.png", 600_000, 0.3);
    await until(() => tmpFiles(strict).length === 1, "the upload's temporary file");
    client.close();
    await client.closed;
    await until(() => tmpFiles(strict).length === 0, "the temporary file to be removed");
    await until(() => strict.server.context.metrics.connections === 0, "the session to be released");
    expect(await listedNames(carol)).not.toContain("olga/vanished.png");
    // Its name was never taken.
    await postSucceeds(strict, olga, "vanished.png");
  });

  test("a full disk", async () => {
    const ctx = strict.server.context;
    const real = ctx.blobs;
    const full: BlobStore = {
      create: async (id) => {
        const writer = await real.create(id);
        return {
          write: async () => {
            throw Object.assign(new Error(`ENOSPC: no space left on device, write '${strict.root}/data/blobs/tmp/${id}'`), { code: "ENOSPC" });
          },
          commit: () => writer.commit(),
          abort: () => writer.abort(),
          get bytesWritten() {
            return writer.bytesWritten;
          },
        };
      },
      read: (id, size) => real.read(id, size),
      open: (id, from) => real.open(id, from),
      remove: (id) => real.remove(id),
      sweep: (keep) => real.sweep(keep),
    };
    ctx.blobs = full;
    try {
      const { client } = await halfUpload(strict, olga, "no-space.png");
      const reply = await expectRefusal(client, "STORAGE_FAILED", true);
      expect(reply.message).not.toContain("ENOSPC");
      await until(() => tmpFiles(strict).length === 0, "the temporary file to be removed");
      expect(await listedNames(carol)).not.toContain("olga/no-space.png");
      // The real client sees the same stable code.
      const path = join(strict.root, "disk-full.png");
      writeFileSync(path, pngLike(5_000));
      const conn = await connectAs(olga.creds);
      const error = await postImage(conn, olga.creds, path, { keepMetadata: true }).then(() => null, (e: unknown) => e);
      conn.close();
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).code).toBe("STORAGE_FAILED");
    } finally {
      ctx.blobs = real;
    }
    await until(() => tmpFiles(strict).length === 0, "the temporary files to be removed");
    // Space is back: the same name posts.
    await postSucceeds(strict, olga, "no-space.png");
    await expectStillServing(strict, carol);
  });
});
