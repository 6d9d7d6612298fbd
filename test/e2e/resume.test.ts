/**
 * A cut-through delivery dropped BEHIND, resumed (PROTOCOL.md P45, P23a, protocol version 4),
 * through the compiled binary: a watch stopped (SIGSTOP) mid-delivery is dropped by the server;
 * after SIGCONT it downloads only the tail it lacks (the server's byte counter says how much),
 * and saves the image byte-identical and verified. Against a server of version 3 (the build of
 * VERSION_THREE_COMMIT) the same watch sends no `from` and downloads the image whole, as before.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PARTIAL_PREFIX } from "../../src/client/output-file.ts";
import { register, sis, SIS, startServe, startWatch, tempDir, type ServerProcess } from "../support/cli.ts";
import { runAs, versionThreeBinary } from "../support/old-binary.ts";
import { escapeRegExp, imageLines, SAMPLE, sameFiles, writeBigPng } from "../support/share.ts";

const MiB = 1024 * 1024;
const DEBUG = { SIS_DEBUG: "1" };
let root: string & Disposable;
let big: string;
let old: string[];

beforeAll(async () => {
  root = tempDir("sis-resume-");
  big = join(root, "big.png");
  await writeBigPng(big, 60 * MiB);
  old = runAs(await versionThreeBinary());
}, 600_000);

afterAll(() => root?.[Symbol.dispose]());

const savedLine = (name: string) => new RegExp(` saved alice/${escapeRegExp(name)} \\(#\\d+\\): signature by alice \\(serial [0-9a-f]+\\) verified -> `);
const resumedLine = (name: string) => new RegExp(` debug: alice/${escapeRegExp(name)}: resumed its dropped delivery at byte (\\d+) of (\\d+)$`);

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)![1]);
}

function partials(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[]).filter((p) => p.split("/").at(-1)!.startsWith(PARTIAL_PREFIX));
}

/** Waits until a partial file under `dir` holds some bytes: the cut-through is under way. */
async function partialWithData(dir: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (partials(dir).some((p) => statSync(join(dir, p), { throwIfNoEntry: false })?.size)) return;
    await Bun.sleep(5);
  }
  throw new Error(`no partial file with data appeared under ${dir}`);
}

/** A server (this build, or `prefix`'s) with alice and bob registered, and bob's watch folder. */
async function setUp(label: string, prefix: string[] = []) {
  const dir = join(root, label);
  const server = await startServe(join(dir, "data"), [], { prefix });
  for (const user of ["alice", "bob"]) {
    const r = await register(server, user, join(dir, user));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  const out = join(dir, "out");
  mkdirSync(out);
  return { server, alice: join(dir, "alice"), bob: join(dir, "bob"), out };
}

/**
 * bob's watch is stopped once the delivery of `name` is under way, the post completes meanwhile
 * (the server drops the stopped watcher from it, P45), then the watch goes on; returns its lines.
 */
async function stoppedMidDelivery(s: Awaited<ReturnType<typeof setUp>>, name: string) {
  const w = startWatch(s.bob, s.out, { env: DEBUG });
  await w.waitFor(/ debug: taking cut-through deliveries \(protocol version 3\)$/);
  const poster = Bun.spawn([SIS, "post", "--home", s.alice, "--quiet", "--name", name, big], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
  await partialWithData(s.out);
  w.proc.kill("SIGSTOP");
  try {
    expect(await poster.exited).toBe(0);
  } finally {
    w.proc.kill("SIGCONT");
  }
  await w.waitFor(savedLine(name), 120_000);
  return w;
}

describe("a watch dropped BEHIND resumes the delivery (protocol version 4)", () => {
  test("after SIGCONT it downloads only dataSize − from bytes; the image is byte-identical, verified, saved once", async () => {
    const s = await setUp("v4");
    try {
      const bytes0 = await metric(s.server, "sis_download_bytes_total");
      const dropped0 = await metric(s.server, "sis_cut_through_dropped_total");
      await using w = await stoppedMidDelivery(s, "resumed.png");
      expect(w.lines).toContainEqual(expect.stringMatching(/ debug: alice\/resumed\.png: the server dropped its cut-through delivery \(BEHIND\); it will be resumed$/));
      const at = w.lines.map((l) => resumedLine("resumed.png").exec(l)).find((m) => m);
      expect(at).toBeDefined();
      const [from, of] = [Number(at![1]), Number(at![2])];
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThan(of);
      // The only DOWNLOAD of this watch: the tail, from `from` on.
      expect(await metric(s.server, "sis_download_bytes_total")).toBe(bytes0 + of - from);
      expect(await metric(s.server, "sis_ranged_downloads_total")).toBe(1);
      expect(await metric(s.server, "sis_cut_through_dropped_total")).toBe(dropped0 + 1);
      expect(await sameFiles(big, join(s.out, "alice", "resumed.png"))).toBe(true);
      const v = Bun.spawnSync(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", join(s.out, "alice", "resumed.png.p7s"), "-content", join(s.out, "alice", "resumed.png"), "-CAfile", join(s.bob, "ca.pem"), "-purpose", "any", "-out", "/dev/null"]);
      expect(v.exitCode).toBe(0);
      expect(imageLines(w).filter((l) => l.includes("alice/resumed.png"))).toHaveLength(1);
      expect(partials(s.out)).toEqual([]);
      await w.stop();
    } finally {
      await s.server.stop();
    }
  }, 240_000);
});

describe("this client against a server of protocol version 3", () => {
  test("a watch dropped BEHIND sends no from: it downloads the image whole and saves it, and every other image too", async () => {
    const s = await setUp("v3", old);
    try {
      await using w = await stoppedMidDelivery(s, "whole.png");
      expect(w.lines).toContainEqual(expect.stringMatching(/ debug: alice\/whole\.png: the server dropped its cut-through delivery \(BEHIND\); it will be downloaded$/));
      expect(w.lines.filter((l) => /resumed|cannot be resumed/.test(l))).toEqual([]);
      expect(await sameFiles(big, join(s.out, "alice", "whole.png"))).toBe(true);
      const single = await sis(["post", "--home", s.alice, "--name", "after.png", SAMPLE.png]);
      expect({ code: single.code, stderr: single.stderr }).toEqual({ code: 0, stderr: "" });
      await w.waitFor(savedLine("after.png"));
      expect(await sameFiles(SAMPLE.png, join(s.out, "alice", "after.png"))).toBe(true);
      expect(w.lines.filter((l) => / refused | error/i.test(l))).toEqual([]);
      expect(partials(s.out)).toEqual([]);
      await w.stop();
      expect(s.server.log()).not.toMatch(/internal error|BAD_MESSAGE|BAD_UPLOAD/);
    } finally {
      await s.server.stop();
    }
  }, 240_000);
});
