/** O1–O4 through the compiled binary: SIGTERM during a 50 MiB `sis post`, SIGINT under a running `sis watch`, the exit status and log lines. */
import { describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { register, sis, SIS, startServe, startWatch, tempDir, type ServerProcess } from "../support/cli.ts";
import { SAMPLE, waitForLineAfter, writeBigPng } from "../support/share.ts";
import { openTerminal } from "../support/terminal.ts";
import { until } from "../support/until.ts";

const MiB = 1024 * 1024;

/** Bytes of the half-finished uploads in the blob store's temporary directory. */
function tmpBytes(data: string): number {
  const dir = join(data, DATA_FILES.blobs, "tmp");
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** The committed blobs (files directly under blobs/, not tmp/). */
function blobs(data: string): string[] {
  return readdirSync(join(data, DATA_FILES.blobs)).filter((f) => f !== "tmp");
}

function spawnPost(home: string, file: string) {
  const proc = Bun.spawn([SIS, "post", "--home", home, file], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
  const result = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => ({ stdout, stderr, code }));
  return { proc, result };
}

/** Posts a 50 MiB image and sends `signal` to the server once part of it is on the server's disk; returns what each side did. */
async function signalDuringUpload(graceSeconds: number, signal: NodeJS.Signals) {
  const root = tempDir("sis-shutdown-");
  const data = join(root, "data");
  const alice = join(root, "alice");
  const server = await startServe(data, ["--log-level", "debug", "--shutdown-grace", String(graceSeconds)]);
  expect((await register(server, "alice", alice)).code).toBe(0);
  const image = join(root, "big.png");
  await writeBigPng(image, 50 * MiB);
  const post = spawnPost(alice, image);
  // Mid-way: the upload has begun and some of its bytes are on the server's disk.
  await until(() => /debug upload started /.test(server.log()) && tmpBytes(data) >= 4 * MiB, "the upload to be under way", 60_000);
  server.proc.kill(signal);
  const [posted, exit] = await Promise.all([post.result, server.proc.exited]);
  return { root, data, alice, server, posted, exit, port: server.port };
}

/** What a restarted server on the same data holds for alice. */
async function aliceImages(data: string, alice: string, port: number): Promise<string> {
  await using again = await startServe(data, ["--port", String(port)]);
  const listed = await sis(["list", "--home", alice]);
  expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
  return listed.stdout;
}

function stoppedLine(server: ServerProcess, signal: string): string {
  const line = server.log().split("\n").find((l) => / info server stopped /.test(l));
  expect({ line }).toEqual({ line: expect.stringContaining(`signal="${signal}"`) });
  console.log(line!.replace(/^\S+ /, ""));
  return line!;
}

describe("SIGTERM and SIGINT (O1, O2)", () => {
  test("SIGTERM during a 50 MiB upload with a grace period: the upload finishes and is acknowledged and kept; the server exits 0 and logs it", async () => {
    const r = await signalDuringUpload(60, "SIGTERM");
    try {
      expect({ exit: r.exit, signalCode: r.server.proc.signalCode }).toEqual({ exit: 0, signalCode: null });
      expect({ code: r.posted.code, stderr: r.posted.stderr }).toEqual({ code: 0, stderr: "" });
      expect(r.posted.stdout).toMatch(/^posted alice\/big\.png id [0-9a-f]{32} \(50 MiB, image\/png\)\n$/);
      const log = r.server.log();
      expect(log).toMatch(/ info shutting down: no new connections; uploads under way may finish signal="SIGTERM" graceSeconds=60 connections=1\n/);
      expect(stoppedLine(r.server, "SIGTERM")).toMatch(/ uploads=1 aborted=0 finished=1 /);
      // Logged with its name (--log-names defaults to true), id and owner.
      expect(log).toMatch(/ info image stored id="[0-9a-f]{32}" owner="alice" name="big\.png" size=52428800\n/);
      expect(await aliceImages(r.data, r.alice, r.port)).toContain("big.png");
    } finally {
      r.root[Symbol.dispose]();
    }
  }, 180_000);

  test("SIGTERM during a 50 MiB upload with --shutdown-grace 0: either acknowledged and kept, or refused with a clear message and invisible", async () => {
    const r = await signalDuringUpload(0, "SIGTERM");
    try {
      expect({ exit: r.exit, signalCode: r.server.proc.signalCode }).toEqual({ exit: 0, signalCode: null });
      const stopped = stoppedLine(r.server, "SIGTERM");
      const images = await aliceImages(r.data, r.alice, r.port);
      if (r.posted.code === 0) {
        // The last frame beat the signal: then it is kept.
        console.log("grace 0: the upload had finished before the signal was handled");
        expect(r.posted.stdout).toStartWith("posted alice/big.png id ");
        expect(images).toContain("big.png");
      } else {
        console.log("grace 0: the upload was aborted");
        expect(r.posted.code).toBe(1);
        expect(r.posted.stderr).toBe("sis: cannot post " + join(r.root, "big.png") + ": the server is shutting down or restarting and kept nothing of this upload; post it again once it is back (SHUTTING_DOWN)\n");
        expect(stopped).toMatch(/ uploads=1 aborted=1 finished=0 /);
        expect(images).not.toContain("big.png");
        // Nothing of it is left: no committed blob, no temporary file.
        expect({ blobs: blobs(r.data), tmp: tmpBytes(r.data) }).toEqual({ blobs: [], tmp: 0 });
      }
    } finally {
      r.root[Symbol.dispose]();
    }
  }, 180_000);

  test("SIGINT with a watch connected: the watch hears SHUTTING_DOWN, reconnects to the restarted server and saves the next image", async () => {
    using root = tempDir("sis-shutdown-watch-");
    const data = join(root, "data");
    const alice = join(root, "alice");
    const bob = join(root, "bob");
    const first = await startServe(data);
    for (const u of ["alice", "bob"]) expect((await register(first, u, join(root, u))).code).toBe(0);
    await using w = startWatch(bob, join(root, "out"));
    await w.waitFor(/ connected to /);
    const from = w.lines.length;
    first.proc.kill("SIGINT");
    expect(await first.proc.exited).toBe(0);
    expect(first.log()).toMatch(/ info shutting down: .* signal="SIGINT" graceSeconds=10 connections=1\n/);
    stoppedLine(first, "SIGINT");
    await waitForLineAfter(w, from, /disconnected: the server is shutting down or restarting; reconnect in a moment .*; retrying quietly/);

    await using second = await startServe(data, ["--port", String(first.port)]);
    await waitForLineAfter(w, from, / connected to /);
    const posted = await sis(["post", "--home", alice, "--name", "after-restart.png", SAMPLE.png]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    await waitForLineAfter(w, from, / saved alice\/after-restart\.png /);
    await w.stop();
    expect(w.proc.exitCode).toBe(0);
    await second.stop();
    expect(second.proc.exitCode).toBe(0);
  }, 180_000);

  test("on a terminal the log is text, and Ctrl-C stops the server with its log lines and exit 0 (O1, O10)", async () => {
    using root = tempDir("sis-shutdown-tty-");
    await using term = await openTerminal([SIS, "serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0"]);
    await term.waitFor(/^\S+Z info server started version="[^"]+" port=\d+ /m);
    await term.press("C-c");
    const screen = await term.waitFor(/^EXIT=\d+$/m);
    expect(screen).toMatch(/^\S+Z info shutting down: no new connections; uploads under way may finish signal="SIGINT" graceSeconds=10 connections=0$/m);
    expect(screen).toMatch(/^\S+Z info server stopped signal="SIGINT" sessions=0 uploads=0 aborted=0 finished=0 ms=\d+$/m);
    expect(screen).toMatch(/^EXIT=0$/m);
    // Nothing on the screen is JSON: a person reads it.
    expect(screen).not.toMatch(/^\{/m);
  }, 60_000);

  test("SIGTERM with --shutdown-grace 0 while a watch downloads a 50 MiB image: the image is fetched again after the restart, never recorded as refused (O3)", async () => {
    using root = tempDir("sis-shutdown-download-");
    const data = join(root, "data");
    const alice = join(root, "alice");
    const bob = join(root, "bob");
    const out = join(root, "out");
    const first = await startServe(data, ["--shutdown-grace", "0"]);
    for (const u of ["alice", "bob"]) expect((await register(first, u, join(root, u))).code).toBe(0);
    const image = join(root, "big.png");
    await writeBigPng(image, 50 * MiB);
    const posted = await sis(["post", "--home", alice, image]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    await using w = startWatch(bob, out);
    // Mid-download: bob's hidden partial file has some of the image.
    const partialBytes = () => {
      try {
        return readdirSync(join(out, "alice")).filter((f) => f.startsWith(".sis-partial-")).reduce((n, f) => n + statSync(join(out, "alice", f)).size, 0);
      } catch {
        return 0;
      }
    };
    await until(() => partialBytes() >= 4 * MiB, "bob's download to be under way", 60_000);
    first.proc.kill("SIGTERM");
    expect(await first.proc.exited).toBe(0);
    await using second = await startServe(data, ["--port", String(first.port)]);
    const saved = await w.waitFor(/ saved alice\/big\.png /, 120_000);
    expect(saved).toContain("verified");
    expect(w.lines.filter((l) => / refused /.test(l))).toEqual([]);
    // It says once that it lost the server: with SHUTTING_DOWN's words when the ERROR got through,
    // or as a lost connection when the socket closed behind a full outbox of download frames
    // (grace 0 closes at once; on a loaded machine the ERROR may not be flushed first). Either way
    // the image is fetched again, never refused (above): that is O3's promise.
    expect(w.lines.some((l) => /disconnected: /.test(l))).toBe(true);
    await w.stop();
    expect(w.proc.exitCode).toBe(0);
  }, 240_000);
});
