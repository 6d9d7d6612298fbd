/**
 * Uploaders for bench/upload-stall.ts: COUNT authenticated connections of one user, each
 * with POST_IMAGE of an image of MIB MiB accepted (UPLOAD_READY). On {"cmd":"go"} all of
 * them stream their ciphertext at once and it prints {done, seconds} once every POSTED is
 * in. The server stores ciphertext without opening it, so the data frames are random
 * bytes from one reused buffer: the uploaders spend their CPU on TLS only, not on
 * sealing, and the server's work per byte is what it is for a real upload.
 * Usage: bun bench/upload-stall-worker.ts HOME COUNT MIB
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { Home } from "../src/client/home.ts";
import { connectAs } from "../src/client/session.ts";
import { CHUNK_SIZE, TAG_SIZE, cipherSize, encodeHeader, generateContentKey, newHeader, wrapKey } from "../src/crypto/index.ts";
import { FRAME_HEADER_SIZE, fromBase64, toBase64 } from "../src/protocol/index.ts";
import { commands, emit } from "./child-io.ts";
import { clockMs, MiB } from "./measure.ts";

const [home, countArg, mibArg] = process.argv.slice(2);
const creds = await new Home(home!).credentials();
const size = Number(mibArg) * MiB;
const dataSize = cipherSize(size);
const owner = creds.profile.username;
const tag = randomBytes(4).toString("hex");
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;
const RING = 24;
const random = randomBytes(SEALED_CHUNK);

const conns = await Promise.all(
  Array.from({ length: Number(countArg) }, async (_, i) => {
    const conn = await connectAs(creds, 60_000);
    const name = `stall-${tag}-${i}.png`;
    const key = generateContentKey();
    const header = newHeader({ owner, name, contentType: "image/png", size });
    const wrappedKey = await wrapKey(key, fromBase64(conn.hello.storageCertificate));
    await conn.expect(
      // The signature is stored, not checked, by the server; any bytes do for this figure.
      { type: "POST_IMAGE", name, contentType: "image/png", size, dataSize, header: toBase64(encodeHeader(header)), signature: toBase64(randomBytes(64)), wrappedKey: toBase64(wrappedKey) },
      "UPLOAD_READY",
    );
    return conn;
  }),
);
emit({ ready: conns.length });

for await (const command of commands()) {
  if (command.cmd !== "go") continue;
  const t0 = clockMs();
  await Promise.all(
    conns.map(async (conn) => {
      // Frames the size a real sis post sends (one sealed chunk each), from a ring of buffers: sendDataFrame
      // returns once at most SEND_BACKLOG (1 MiB, 16 such frames) is queued, so a buffer RING sends
      // later is free again.
      const ring = Array.from({ length: RING }, () => {
        const frame = new Uint8Array(FRAME_HEADER_SIZE + SEALED_CHUNK);
        frame.set(random, FRAME_HEADER_SIZE);
        return frame;
      });
      for (let sent = 0, i = 0; sent < dataSize; i++) {
        const n = Math.min(SEALED_CHUNK, dataSize - sent);
        await conn.sendDataFrame(ring[i % RING]!.subarray(0, FRAME_HEADER_SIZE + n));
        sent += n;
      }
      const reply = await conn.receive(120_000);
      if (reply.type !== "POSTED") throw new Error(`expected POSTED, got ${reply.type}`);
    }),
  );
  emit({ done: conns.length, seconds: (clockMs() - t0) / 1000 });
}
process.exit(0);
