/**
 * Concurrent downloaders (spawned by bench/download.ts): COUNT authenticated
 * connections. On {"cmd":"go","rep":R} each sends DOWNLOAD for the image and
 * consumes its ciphertext frames (no decryption, no disk), then it prints
 * {rep, bytes, seconds}: all bytes over the time from the first request to the
 * last byte. Usage: bun bench/download-worker.ts HOME COUNT IMAGE_ID
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import { Home } from "../src/client/home.ts";
import { connectAs } from "../src/client/session.ts";
import { commands, emit, pool } from "./child-io.ts";
import { clockMs } from "./measure.ts";

const [home, countArg, id] = process.argv.slice(2);
const creds = await new Home(home!).credentials();
const conns = await pool(Array.from({ length: Number(countArg) }), 16, () => connectAs(creds, 60_000));
emit({ ready: conns.length });

for await (const command of commands()) {
  if (command.cmd !== "go") continue;
  const t0 = clockMs();
  const sizes = await Promise.all(
    conns.map(async (conn) => {
      const reply = await conn.expect({ type: "DOWNLOAD", id: id! }, "IMAGE");
      let got = 0;
      // As sis get and sis watch read a download (src/client/receive.ts): each payload is done with
      // before the next, so its pooled buffer is reused rather than a fresh one allocated per frame.
      for await (const chunk of conn.receiveData(reply.dataSize, { transient: true })) got += chunk.length;
      return got;
    }),
  );
  emit({ rep: command.rep, bytes: sizes.reduce((a, b) => a + b, 0), seconds: (clockMs() - t0) / 1000 });
}
process.exit(0);
