/** sis watch as a person runs it: one line when the server is lost and one when it is back, a progress bar on a terminal, a summary on Ctrl-C. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SIS, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, waitForLineAfter, writeBigPng } from "../support/share.ts";
import { untilValue } from "../support/until.ts";

setDefaultTimeout(120_000);

let box: Sandbox;
let server: ServerProcess;
let alice: string;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-watch-session-", ["alice", "bob"]);
  ({ server } = box);
  alice = box.home("alice");
  bob = box.home("bob");
}, 90_000);

afterAll(async () => {
  await server?.stop(); // the reconnect test replaces the sandbox's server with its own
  await box?.close();
});

async function alicePosts(path: string, name: string): Promise<void> {
  const r = await sis(["post", "--home", alice, "--name", name, path]);
  expect({ name, code: r.code, stderr: r.stderr }).toEqual({ name, code: 0, stderr: "" });
}

/** The awaited events are in other processes: a minute each (test/support/until.ts). */
const until = <T>(what: string, check: () => T | null | undefined | false): Promise<T> => untilValue(check, what, 60_000);

describe("sis watch across a lost server", () => {
  test("reconnect attempts are quiet: one line when the server is lost, one when it is back; SIGTERM prints the summary", async () => {
    const out = box.freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    const port = server.port;
    const before = w.lines.length;
    await server.stop();
    // In the server's place: a listener that takes each connection and closes it at once, so every
    // attempt fails right after connecting (the case whose back-off must keep growing).
    let attempts = 0;
    const listener = Bun.listen({ hostname: "127.0.0.1", port, socket: { open: (s) => void (attempts++, s.end()), data() {} } });
    try {
      await until("four failed reconnect attempts", () => attempts >= 4);
    } finally {
      listener.stop(true);
      // Back in any case: the next test needs the server.
      server = await startServe(server.dataDir, ["--port", String(port)]);
    }
    await waitForLineAfter(w, before, / connected to .* as bob; catching up after #\d+$/);
    const since = w.lines.slice(before);
    expect(since.filter((l) => /disconnected|not connected|reconnecting/.test(l))).toHaveLength(1);
    expect(since.find((l) => / disconnected: /.test(l))).toMatch(/^\S+ disconnected: .*; retrying quietly \(at most 5 s apart\) until the server is back; reconnecting in [\d.]+ s$/);
    expect(since.filter((l) => / connected to /.test(l))).toHaveLength(1);
    await alicePosts(SAMPLE.png, "after-loss.png");
    await w.waitFor(/ saved alice\/after-loss\.png /);
    await w.stop("SIGTERM");
    expect(w.proc.exitCode).toBe(0);
    expect(w.errLines).toHaveLength(1);
    expect(w.errLines[0]).toMatch(/^\S+ stopped \(SIGTERM\): 1 received, 0 refused, 0 already saved; the next watch resumes after #\d+$/);
  });
});

/**
 * A TCP relay to the server that cuts each connection once it has carried `cutAfter` bytes towards the
 * client: the TLS handshake, HELLO and catch-up pass, a large download does not.
 */
function cuttingRelay(target: number, cutAfter: number) {
  type Side = { up: Awaited<ReturnType<typeof Bun.connect>> | null; early: Uint8Array[]; down: number; backlog: Uint8Array[] };
  const flush = (s: { write(b: Uint8Array): number }, backlog: Uint8Array[]) => {
    while (backlog.length > 0) {
      const head = backlog[0]!;
      const n = s.write(head);
      if (n < head.length) {
        backlog[0] = head.subarray(Math.max(n, 0));
        return;
      }
      backlog.shift();
    }
  };
  return Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { up: null, early: [], down: 0, backlog: [] };
        void Bun.connect({
          hostname: "127.0.0.1",
          port: target,
          socket: {
            open(up) {
              client.data.up = up;
              for (const b of client.data.early) up.write(b);
            },
            data(up, bytes) {
              client.data.down += bytes.length;
              if (client.data.down > cutAfter) {
                client.terminate();
                up.terminate();
                return;
              }
              client.data.backlog.push(new Uint8Array(bytes));
              flush(client, client.data.backlog);
            },
            close: () => void client.end(),
          },
        });
      },
      data(client, bytes) {
        if (client.data.up) client.data.up.write(bytes);
        else client.data.early.push(new Uint8Array(bytes));
      },
      drain: (client) => flush(client, client.data.backlog),
      close: (client) => void client.data.up?.end(),
    },
  });
}

describe("sis watch in a terminal (tmux)", () => {
  const session = `sis-h3-watch-${process.pid}`;
  const tmux = (...args: string[]) => {
    const r = Bun.spawnSync(["tmux", ...args]);
    if (r.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  const pane = () => tmux("capture-pane", "-p", "-J", "-t", session);

  test("a large download draws a progress bar, and Ctrl-C prints the summary and exits 0", async () => {
    const out = box.freshDir("out");
    const record = join(box.root, "pane.log");
    const big = join(box.root, "big-progress.png");
    await writeBigPng(big, 12 * 1024 * 1024);
    tmux("new-session", "-d", "-s", session, "-x", "220", "-y", "50", "bash --norc --noprofile");
    try {
      // Everything the terminal is sent, escape codes and carriage returns included.
      tmux("pipe-pane", "-o", "-t", session, `cat >> '${record}'`);
      tmux("send-keys", "-t", session, `'${SIS}' watch --home '${bob}' -o '${out}'; echo "watch-exit=$?"`, "Enter");
      await until("the watch to connect", () => / connected to .* as bob;/.test(pane()));
      await alicePosts(big, "big-progress.png");
      await until("the saved line", () => / saved alice\/big-progress\.png /.test(pane()));
      const drawn = readFileSync(record, "latin1");
      expect(drawn).toMatch(/\rgetting alice\/big-progress\.png \[#{24}\] 12 MiB\/12 MiB \S+ \S+\/s ETA 0s\x1b\[K\r\x1b\[K/);
      tmux("send-keys", "-t", session, "C-c");
      const screen = await until("the watch to exit", () => {
        const text = pane();
        return /watch-exit=\d+/.test(text) && text;
      });
      // A new output folder catches up from the start (per-folder position), so the image of
      // the test before this one arrives too: two received.
      expect(screen).toMatch(/ stopped \(SIGINT\): 2 received, 0 refused, 0 already saved; the next watch resumes after #\d+\nwatch-exit=0\n/);
      expect(existsSync(join(out, "alice", "big-progress.png"))).toBe(true);
    } finally {
      Bun.spawnSync(["tmux", "kill-session", "-t", session]);
    }
  });

  test("sis get that fails mid-download clears its progress bar before the error", async () => {
    const out = box.freshDir("out");
    const record = join(box.root, "get-pane.log");
    tmux("new-session", "-d", "-s", session, "-x", "220", "-y", "50", "bash --norc --noprofile");
    try {
      tmux("pipe-pane", "-o", "-t", session, `cat >> '${record}'`);
      // A 4 MiB file size limit (SIGXFSZ ignored): the 12 MiB image of the previous test cannot be saved.
      tmux("send-keys", "-t", session, `(trap '' XFSZ; ulimit -f 4096; exec '${SIS}' get alice/big-progress.png --home '${bob}' -o '${out}'); echo "get-exit=$?"`, "Enter");
      await until("get to exit", () => /get-exit=\d+/.test(pane()));
      expect(pane()).toContain("get-exit=1");
      const drawn = readFileSync(record, "latin1");
      expect(drawn).toMatch(/\rgetting alice\/big-progress\.png \[[#-]{24}\] [^\r]*\x1b\[K\r\x1b\[Ksis: cannot save \S+\/alice\/big-progress\.png: the file is larger than this process may write/);
    } finally {
      Bun.spawnSync(["tmux", "kill-session", "-t", session]);
    }
  });
});

describe("sis watch against connections that fail right after connecting", () => {
  test("the back-off keeps growing (connecting is not progress), instead of restarting at every connect", async () => {
    const big = join(box.root, "cut-short.png");
    await writeBigPng(big, 6 * 1024 * 1024);
    await alicePosts(big, "cut-short.png");
    const listed = JSON.parse((await sis(["list", "--json", "--home", bob])).stdout) as { name: string; seq: number }[];
    const seq = listed.find((i) => i.name === "cut-short.png")!.seq;
    const relay = cuttingRelay(server.port, 1024 * 1024);
    try {
      const home = join(box.root, "bob-relayed");
      cpSync(bob, home, { recursive: true });
      const address = `127.0.0.1:${relay.port}`;
      const profile = JSON.parse(readFileSync(join(home, "profile.json"), "utf8")) as { server: string };
      writeFileSync(join(home, "profile.json"), JSON.stringify({ ...profile, server: address }, null, 2) + "\n");
      // Resume just before the big image, so every connection starts by downloading it.
      writeFileSync(join(home, "watch-state.json"), JSON.stringify({ server: address, lastSeq: seq - 1 }) + "\n");
      await using w = startWatch(home, box.freshDir("out"));
      await until("four connections cut during the download", () => w.lines.filter((l) => / disconnected: /.test(l)).length >= 4);
      await w.stop();
      const cycles = w.lines.filter((l) => / connected to | disconnected: /.test(l)).slice(0, 8);
      expect(cycles.map((l) => (/ connected to /.test(l) ? "connected" : "disconnected"))).toEqual(Array(4).fill(["connected", "disconnected"]).flat());
      // Announced waits: 0.25 s doubling, jitter ±25 %, so the first four are strictly increasing.
      const waits = cycles.filter((l) => / disconnected: /.test(l)).map((l) => Number(/reconnecting in ([\d.]+) s$/.exec(l)![1]));
      expect(waits).toHaveLength(4);
      for (let i = 1; i < waits.length; i++) expect({ i, grows: waits[i]! > waits[i - 1]! }).toEqual({ i, grows: true });
      // The fourth is 2 s ± 25 %: a back-off restarted at each connect would still be at its first step.
      expect(waits[3]).toBeGreaterThanOrEqual(1.5);
      expect(waits[3]).toBeLessThanOrEqual(5);
      expect(w.lines.filter((l) => / (saved|refused) alice\/cut-short\.png /.test(l))).toEqual([]);
    } finally {
      relay.stop(true);
    }
  });
});
