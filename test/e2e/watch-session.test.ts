/** sis watch as a person runs it: one line when the server is lost and one when it is back, a progress bar on a terminal, a summary on Ctrl-C. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SIS, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, waitForLineAfter, writeBigPng } from "../support/share.ts";

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

/** Polls `check` until it returns something, with a deadline (the awaited event is in another process). */
async function until<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

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
    expect(since.find((l) => / disconnected: /.test(l))).toMatch(/^\S+ disconnected: .*; reconnecting quietly \(every 5 s at most\) until the server is back$/);
    expect(since.filter((l) => / connected to /.test(l))).toHaveLength(1);
    await alicePosts(SAMPLE.png, "after-loss.png");
    await w.waitFor(/ saved alice\/after-loss\.png /);
    await w.stop("SIGTERM");
    expect(w.proc.exitCode).toBe(0);
    expect(w.errLines).toHaveLength(1);
    expect(w.errLines[0]).toMatch(/^\S+ stopped \(SIGTERM\): 1 received, 0 refused, 0 already saved; the next watch resumes after #\d+$/);
  });
});

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
      expect(screen).toMatch(/ stopped \(SIGINT\): 1 received, 0 refused, 0 already saved; the next watch resumes after #\d+\nwatch-exit=0\n/);
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
