/**
 * The loopback ceiling for downloads: one Bun TLS 1.3 stream between two processes.
 *   bun bench/tls-stream.ts serve CERT KEY   prints {port}; streams N bytes for each "N\n" request
 *   bun bench/tls-stream.ts client PORT      on {"cmd":"go","rep":R,"bytes":N} prints {rep, bytes, seconds}
 * The server writes one random 256 KiB buffer over and over, honouring backpressure.
 */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { commands, emit } from "./child-io.ts";
import { clockMs } from "./measure.ts";

const TLS_1_3 = 0x0304;
const BLOCK = randomFillSync(new Uint8Array(256 * 1024));
const [mode, ...args] = process.argv.slice(2);

type Stream = { left: number; at: number };

function pump(s: Socket<Stream>): void {
  while (s.data.left > 0) {
    const piece = BLOCK.subarray(s.data.at, Math.min(BLOCK.length, s.data.at + s.data.left));
    const written = s.write(piece);
    if (written <= 0) return; // wait for drain
    s.data.left -= written;
    s.data.at = (s.data.at + written) % BLOCK.length;
    if (written < piece.length) return;
  }
}

if (mode === "serve") {
  const listener = Bun.listen<Stream>({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: readFileSync(args[0]!, "utf8"), key: readFileSync(args[1]!, "utf8"), minVersion: TLS_1_3 } as Bun.TLSOptions,
    socket: {
      open: (s) => void (s.data = { left: 0, at: 0 }),
      data(s, bytes) {
        s.data.left += Number(new TextDecoder().decode(bytes).trim());
        pump(s);
      },
      drain: pump,
    },
  });
  emit({ port: listener.port });
  for await (const _ of commands()) {
    // stays up until the parent closes stdin
  }
  process.exit(0);
}

let want = 0;
let got = 0;
let done: (() => void) | null = null;
const socket = await new Promise<Socket<undefined>>((resolve, reject) => {
  void Bun.connect({
    hostname: "127.0.0.1",
    port: Number(args[0]),
    tls: { rejectUnauthorized: false },
    socket: {
      handshake: (s) => resolve(s),
      data(_s, bytes) {
        got += bytes.length;
        if (got >= want) done?.();
      },
      connectError: (_s, e) => reject(e),
    },
  });
});
emit({ ready: 1 });
for await (const command of commands()) {
  if (command.cmd !== "go") continue;
  want = Number(command.bytes);
  got = 0;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = clockMs();
  socket.write(`${want}\n`);
  await finished;
  emit({ rep: command.rep, bytes: got, seconds: (clockMs() - t0) / 1000 });
}
process.exit(0);
