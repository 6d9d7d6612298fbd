/**
 * Floor receivers (spawned by bench/fanout.ts): COUNT plain TCP sockets to the
 * floor server. After {"cmd":"expect","len":L,"id":I} it prints {id, n, first,
 * last} once every socket has received L more bytes; times are clockMs().
 * Usage: bun bench/floor-worker.ts PORT COUNT
 */
import type { Socket } from "bun";
import { commands, emit, pool } from "./child-io.ts";
import { clockMs } from "./measure.ts";

const [portArg, countArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
type State = { got: number };
const sockets: Socket<State>[] = [];
let expect = { len: Infinity, id: -1, n: 0, first: 0, last: 0 };

function onData(s: Socket<State>, bytes: Uint8Array): void {
  const before = s.data.got;
  s.data.got += bytes.length;
  if (before < expect.len && s.data.got >= expect.len) {
    const t = clockMs();
    if (expect.n === 0) expect.first = t;
    expect.last = t;
    if (++expect.n === sockets.length) emit({ id: expect.id, n: expect.n, first: expect.first, last: expect.last });
  }
}

await pool(Array.from({ length: count }), 64, async () => {
  const s = await Bun.connect<State>({ hostname: "127.0.0.1", port, data: { got: 0 }, socket: { data: onData } });
  sockets.push(s);
});
emit({ ready: sockets.length, failed: count - sockets.length, error: "" });

for await (const command of commands()) {
  if (command.cmd === "expect") {
    for (const s of sockets) s.data.got = 0;
    expect = { len: Number(command.len), id: Number(command.id), n: 0, first: 0, last: 0 };
    emit({ expecting: expect.id });
  }
}
process.exit(0);
