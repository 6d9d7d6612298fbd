/**
 * Fan-out receivers (spawned by bench/fanout.ts): COUNT authenticated sis
 * connections sharing one user's certificate. For each NEW_IMAGE it prints
 * {seq, n, first, last} once every live connection has it; times are clockMs().
 * Usage: bun bench/fanout-worker.ts HOME COUNT
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order.
import "reflect-metadata";
import type { Connection } from "../src/client/connection.ts";
import { Home } from "../src/client/home.ts";
import { connectAs } from "../src/client/session.ts";
import { commands, emit, pool } from "./child-io.ts";
import { clockMs } from "./measure.ts";

const [home, countArg] = process.argv.slice(2);
const count = Number(countArg);
const creds = await new Home(home!).credentials();
const conns: Connection[] = [];
const seen = new Map<number, { n: number; first: number; last: number; done: boolean }>();
let lost = 0;
let failed = 0;
let error = "";

function onImage(seq: number): void {
  const t = clockMs();
  let rec = seen.get(seq);
  if (!rec) seen.set(seq, (rec = { n: 0, first: t, last: t, done: false }));
  rec.n++;
  rec.last = t;
  if (!rec.done && rec.n >= conns.length - lost) {
    rec.done = true;
    emit({ seq, n: rec.n, first: rec.first, last: rec.last });
  }
}

const ping = () => pool(conns.filter((c) => !c.closed), 64, (c) => c.expect({ type: "PING" }, "PONG"));
// Connecting thousands can outlast the server's idle timeout: keep the first ones alive meanwhile.
const keepAlive = setInterval(() => void ping().catch(() => {}), 30_000);
const started = clockMs();
let retries = 0;
// Few handshakes in flight per worker: the server's handshake queue stays short, so
// none waits past its handshake timeout; one that still fails is retried.
await pool(Array.from({ length: count }), 8, async () => {
  for (let attempt = 0; ; attempt++) {
    try {
      const conn = await connectAs(creds, 120_000);
      conn.onPush((image) => onImage(image.seq));
      conn.onClose(() => lost++);
      conns.push(conn);
      return;
    } catch (e) {
      error = (e as Error).message;
      if (attempt === 4) {
        failed++;
        return;
      }
      retries++;
    }
  }
});
clearInterval(keepAlive);
emit({ ready: conns.length, failed, retries, error, seconds: (clockMs() - started) / 1000 });

for await (const command of commands()) {
  if (command.cmd === "ping") {
    // Keeps every connection inside the server's idle timeout between repetitions.
    await ping();
    emit({ pinged: conns.length - lost, lost });
  }
}
process.exit(0);
