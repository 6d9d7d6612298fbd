/**
 * Cut-through delivery (PROTOCOL.md P40–P49) through the compiled binary: a watch gets an image
 * while it is posted, byte-identical and verified; an aborted upload, a server killed mid-upload
 * and a stopped watcher leave no visible file and no partial, and every image arrives exactly
 * once; a watch of version 2 still gets images the ordinary way.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PARTIAL_PREFIX } from "../../src/client/output-file.ts";
import { sis, SIS, startServe, startWatch, type ServerProcess, type WatchProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { escapeRegExp, imageLines, listFiles, SAMPLE, sameFiles, writeBigPng } from "../support/share.ts";
import { until } from "../support/until.ts";

const MiB = 1024 * 1024;
let box: Sandbox;
let server: ServerProcess;
let alice: string;
let bob: string;
let big: string;
/** One folder for every watch here: each resumes where the last stopped, so none fetches earlier tests' images. */
let out: string;

beforeAll(async () => {
  box = await openSandbox("sis-cut-through-", ["alice", "bob"]);
  ({ server } = box);
  alice = box.home("alice");
  bob = box.home("bob");
  big = join(box.root, "big.png");
  await writeBigPng(big, 60 * MiB);
  out = box.freshDir("out");
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await box?.close();
});

const DEBUG = { SIS_DEBUG: "1" };
const savedLine = (name: string) => new RegExp(` saved alice/${escapeRegExp(name)} \\(#\\d+\\): signature by alice \\(serial [0-9a-f]+\\) verified -> `);
const cutThroughLine = (name: string) => new RegExp(` debug: alice/${escapeRegExp(name)} \\(#\\d+\\) came by cut-through delivery$`);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)![1]);
}

/** Hidden partial files anywhere under `dir`. */
function partials(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.startsWith(PARTIAL_PREFIX)) found.push(join(d, e.name));
    }
  };
  walk(dir);
  return found;
}

/** Waits until a partial file under `dir` holds some bytes: the cut-through is under way. */
async function partialWithData(dir: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (partials(dir).some((p) => statSync(p, { throwIfNoEntry: false })?.size)) return;
    await Bun.sleep(5);
  }
  throw new Error(`no partial file with data appeared under ${dir}`);
}

function startPost(path: string, name: string) {
  return Bun.spawn([SIS, "post", "--home", alice, "--quiet", "--name", name, path], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
}

async function post(path: string, name: string): Promise<void> {
  const r = await sis(["post", "--home", alice, "--quiet", "--name", name, path]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
}

async function connected(w: WatchProcess, cutThrough = true): Promise<void> {
  await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
  if (cutThrough) await w.waitFor(/ debug: taking cut-through deliveries \(protocol version 3\)$/);
}

describe("cut-through delivery (protocol version 3)", () => {
  test("a watch gets a posted image while it is posted: byte-identical, verified, and never downloaded", async () => {
    await using w = startWatch(bob, out, { env: DEBUG });
    await connected(w);
    const downloads = await metric("sis_downloads_total");
    const delivered = await metric("sis_cut_through_delivered_total");
    await post(SAMPLE.png, "ct.png");
    await w.waitFor(savedLine("ct.png"));
    await w.waitFor(cutThroughLine("ct.png"));
    expect(await sameFiles(SAMPLE.png, join(out, "alice", "ct.png"))).toBe(true);
    expect(await listFiles(out)).toEqual(["alice/ct.png", "alice/ct.png.p7s"]);
    const v = Bun.spawnSync(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", join(out, "alice", "ct.png.p7s"), "-content", join(out, "alice", "ct.png"), "-CAfile", join(bob, "ca.pem"), "-purpose", "any", "-out", "/dev/null"]);
    expect(v.exitCode).toBe(0);
    expect(await metric("sis_cut_through_delivered_total")).toBe(delivered + 1);
    expect(await metric("sis_downloads_total")).toBe(downloads);
    expect(imageLines(w).filter((l) => l.includes("alice/ct.png"))).toHaveLength(1);
    await w.stop();
  });

  test("a poster killed (SIGKILL) mid-upload leaves no file and no partial in the watch folder; the next image still arrives", async () => {
    await using w = startWatch(bob, out, { env: DEBUG });
    await connected(w);
    const poster = startPost(big, "killed.png");
    await partialWithData(out);
    poster.kill("SIGKILL");
    await poster.exited;
    await until(() => partials(out).length === 0, "the partial to be removed", 60_000);
    expect((await listFiles(out)).filter((f) => f.includes("killed"))).toEqual([]);
    await post(SAMPLE.gif, "after-kill.gif");
    await w.waitFor(savedLine("after-kill.gif"));
    expect((await listFiles(out)).filter((f) => f.includes("kill"))).toEqual(["alice/after-kill.gif", "alice/after-kill.gif.p7s"]);
    expect(w.lines.some((l) => l.includes("killed.png") && !l.includes("debug:"))).toBe(false);
    await w.stop();
  });

  test("a watcher stopped (SIGSTOP) mid-delivery does not stall the poster, and after SIGCONT gets the image exactly once", async () => {
    await using w = startWatch(bob, out, { env: DEBUG });
    await connected(w);
    const dropped = await metric("sis_cut_through_dropped_total");
    const poster = startPost(big, "slow-watcher.png");
    await partialWithData(out);
    w.proc.kill("SIGSTOP");
    try {
      // The post completes while the watcher reads nothing: it was dropped from the cut-through (P45).
      expect(await poster.exited).toBe(0);
      expect(await metric("sis_cut_through_dropped_total")).toBeGreaterThan(dropped);
    } finally {
      w.proc.kill("SIGCONT");
    }
    await w.waitFor(savedLine("slow-watcher.png"), 120_000);
    await post(SAMPLE.png, "after-slow.png"); // a later image: the watch has caught up past the first
    await w.waitFor(savedLine("after-slow.png"));
    expect(imageLines(w).filter((l) => l.includes("alice/slow-watcher.png"))).toHaveLength(1);
    expect(await sameFiles(big, join(out, "alice", "slow-watcher.png"))).toBe(true);
    expect(partials(out)).toEqual([]);
    await w.stop();
  }, 180_000);

  test("a watch offering version 2 at most gets images by download, as before", async () => {
    await using w = startWatch(bob, out, { env: { ...DEBUG, SIS_PROTOCOL_MAX: "2" } });
    await connected(w, false);
    // Its catch-up fetches nothing (the folder's position is current): what it downloads is the image below.
    const downloads = await metric("sis_downloads_total");
    const delivered = await metric("sis_cut_through_delivered_total");
    await post(SAMPLE.jpg, "v2.jpg");
    await w.waitFor(savedLine("v2.jpg"));
    expect(await sameFiles(SAMPLE.jpg, join(out, "alice", "v2.jpg"))).toBe(true);
    expect(await metric("sis_downloads_total")).toBe(downloads + 1);
    expect(await metric("sis_cut_through_delivered_total")).toBe(delivered);
    expect(w.lines.filter((l) => / debug: .*cut-through/.test(l))).toEqual([]);
    await w.stop();
  });

  // Last: it restarts the server.
  test("a server killed (SIGKILL) mid-upload: no visible file, no partial; after the restart the image arrives exactly once", async () => {
    await using w = startWatch(bob, out, { env: DEBUG });
    await connected(w);
    const poster = startPost(big, "server-killed.png");
    await partialWithData(out);
    poster.kill("SIGSTOP");
    const port = server.port;
    await server.stop("SIGKILL");
    await until(() => partials(out).length === 0, "the partial to be removed", 60_000);
    expect((await listFiles(out)).filter((f) => f.includes("server-killed"))).toEqual([]);
    poster.kill("SIGKILL");
    await poster.exited;
    server = await startServe(server.dataDir, ["--port", String(port)]);
    box.server = server;
    await post(big, "server-killed.png");
    await w.waitFor(savedLine("server-killed.png"), 120_000);
    await post(SAMPLE.png, "after-restart.png");
    await w.waitFor(savedLine("after-restart.png"));
    expect(imageLines(w).filter((l) => l.includes("alice/server-killed.png"))).toHaveLength(1);
    expect(await sameFiles(big, join(out, "alice", "server-killed.png"))).toBe(true);
    expect(partials(out)).toEqual([]);
    await w.stop();
  }, 180_000);
});
