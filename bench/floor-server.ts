/**
 * The fan-out floor (spawned by bench/fanout.ts): a minimal plain-TCP Bun
 * server. A control connection sends "LEN\n"; the server answers "k" (as sis
 * answers POSTED before it announces) and then writes one LEN-byte buffer to
 * every subscriber socket, the way the sis hub writes one encoded NEW_IMAGE.
 */
import type { Socket } from "bun";
import { commands, emit } from "./child-io.ts";

const subscribers = new Set<Socket<undefined>>();
const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open: (s) => void subscribers.add(s),
    close: (s) => void subscribers.delete(s),
    data: () => {},
  },
});
const control = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(s, bytes) {
      const len = Number(new TextDecoder().decode(bytes).trim());
      const payload = new Uint8Array(len).fill(0x7b);
      s.write("k");
      for (const sub of subscribers) sub.write(payload);
    },
  },
});
emit({ port: listener.port, control: control.port });
for await (const _ of commands()) {
  // stays up until the parent closes stdin
}
process.exit(0);
