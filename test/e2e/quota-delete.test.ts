/** Limits that protect everyone's disk and deleting (PROTOCOL.md M25–M29), through the compiled binary: --quota, --post-rate, whoami's usage, sis rm, sis admin rm. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import tls from "node:tls";
import { join } from "node:path";
import { CONTROL, DATA, decodeServerMessage, encodeMessage, FrameDecoder, type Frame, type ServerMessage } from "../../src/protocol/index.ts";
import { register, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { dirsForFile } from "../support/sandbox.ts";
import { expectRun, until } from "../support/auth-kit.ts";
import { SAMPLE, writeBigPng } from "../support/share.ts";

setDefaultTimeout(90_000);

/** Room for one sample PNG (about 12.7 KB stored), not for two. */
const QUOTA = 20_000;

let server: ServerProcess;
let rated: ServerProcess | undefined;
const { data, home } = dirsForFile("sis-e2e-quota", () => server);
const ratedDirs = dirsForFile("sis-e2e-rate", () => rated);

interface Usage { bytes: number; inFlight: number; images: number; quota: number }

async function usageOf(homeName: string): Promise<Usage> {
  const r = await sis(["whoami", "--json", "--home", home(homeName)]);
  expectRun(r, { code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as { usage: Usage }).usage;
}

function post(homeName: string, file: string, name: string) {
  return sis(["post", "--home", home(homeName), "--name", name, file]);
}

async function listed(homeName: string): Promise<{ id: string; owner: string; name: string }[]> {
  const r = await sis(["list", "--json", "--home", home(homeName)]);
  expectRun(r, { code: 0, stderr: "" });
  return JSON.parse(r.stdout);
}

const blobs = () => readdirSync(join(data, "blobs")).filter((f) => /^[0-9a-f]{32}$/.test(f));

beforeAll(async () => {
  server = await startServe(data, ["--quota", String(QUOTA)]);
  for (const r of await Promise.all(["alice", "bob", "carol"].map((u) => register(server, u, home(u))))) expectRun(r, { code: 0, stderr: "" });
}, 90_000);

afterAll(async () => {
  await rated?.stop();
});

describe("the storage quota (M25) and whoami's usage", () => {
  test("whoami shows nothing stored against the quota before any post", async () => {
    expect(await usageOf("alice")).toEqual({ bytes: 0, inFlight: 0, images: 0, quota: QUOTA });
    const text = await sis(["whoami", "--home", home("alice")]);
    expectRun(text, { code: 0, stderr: "", stdout: /\nstorage     0 B in 0 images, of a 20 KiB \(20000 B\) quota\n$/ });
  });

  test("a post within the quota is stored and counted; the next one over it is refused with the figures, and nothing is stored", async () => {
    expectRun(await post("alice", SAMPLE.png, "first.png"), { code: 0, stderr: "" });
    const after = await usageOf("alice");
    expect(after.images).toBe(1);
    expect(after.bytes).toBeGreaterThan(12_000);
    const r = await post("alice", SAMPLE.png, "second.png");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`storage quota exceeded: you use ${(after.bytes / 1024).toFixed(1)} KiB (${after.bytes} B) of your 19.5 KiB (20000 B) quota and this image needs`);
    expect(r.stderr).toContain("delete images with 'sis rm NAME' to make room");
    expect(r.stderr).toContain("(QUOTA_EXCEEDED)");
    expect(await usageOf("alice")).toEqual(after);
    expect((await listed("bob")).map((i) => i.name)).toEqual(["first.png"]);
    expect(blobs()).toHaveLength(1);
    expect(readdirSync(join(data, "blobs", "tmp"))).toEqual([]);
  });

  test("the quota is per user: bob still posts", async () => {
    expectRun(await post("bob", SAMPLE.jpg, "bob.jpg"), { code: 0, stderr: "" });
  });
});

describe("sis rm (M27, M28)", () => {
  test("the owner deletes an image: gone from LIST and DOWNLOAD, its blob removed, a running watch told and its saved copy kept, the quota freed", async () => {
    const out = join(home("bob"), "out");
    await using w = startWatch(home("bob"), out);
    await w.waitFor(/ saved alice\/first\.png /);
    const id = (await listed("alice")).find((i) => i.name === "first.png")!.id;
    expect(blobs()).toContain(id);

    const r = await sis(["rm", "first.png", "--home", home("alice")]);
    expectRun(r, { code: 0, stderr: "", stdout: /^deleted alice\/first\.png \(#\d+\) from the server; copies others already saved are theirs\n$/ });
    await w.waitFor(/deleted on the server: alice\/first\.png \(#\d+\); a copy saved here is kept$/);
    expect(existsSync(join(out, "alice", "first.png"))).toBe(true);
    expect(w.proc.exitCode).toBeNull();

    expect((await listed("carol")).map((i) => i.name)).toEqual(["bob.jpg"]);
    expectRun(await sis(["get", "alice/first.png", "--home", home("carol"), "-o", join(home("carol"), "got")]), { code: 1, stderr: /no such image.*\(NOT_FOUND\)\n$/ });
    expectRun(await sis(["get", id, "--home", home("carol"), "-o", join(home("carol"), "got")]), { code: 1, stderr: /\(NOT_FOUND\)\n$/ });
    expect(blobs()).not.toContain(id);
    expect(await usageOf("alice")).toEqual({ bytes: 0, inFlight: 0, images: 0, quota: QUOTA });
    // The room is there again.
    expectRun(await post("alice", SAMPLE.png, "second.png"), { code: 0, stderr: "" });
    await w.waitFor(/ saved alice\/second\.png /);
  });

  test("only one's own images: bob's rm of a name he does not have is NOT_FOUND and alice's image stays", async () => {
    expectRun(await sis(["rm", "second.png", "--home", home("bob")]), { code: 1, stderr: /you have no image of that name.*\(NOT_FOUND\)\n$/ });
    expect((await listed("bob")).map((i) => i.name)).toContain("second.png");
  });

  test("a watcher that catches up after a delete never fetches the deleted image", async () => {
    // carol has never watched: her catch-up starts at the beginning.
    expectRun(await post("bob", SAMPLE.gif, "gone.gif"), { code: 0, stderr: "" });
    expectRun(await sis(["rm", "gone.gif", "--home", home("bob")]), { code: 0, stderr: "" });
    expectRun(await post("bob", SAMPLE.webp, "after.webp"), { code: 0, stderr: "" });
    const out = join(home("carol"), "out");
    await using w = startWatch(home("carol"), out);
    await w.waitFor(/ saved bob\/after\.webp /);
    expect(w.lines.filter((l) => l.includes("gone.gif"))).toEqual([]);
    expect(existsSync(join(out, "bob", "gone.gif"))).toBe(false);
    expect(readdirSync(join(out, "bob")).sort()).toEqual(["after.webp", "after.webp.p7s", "bob.jpg", "bob.jpg.p7s"]);
    expect(readdirSync(join(out, "alice")).sort()).toEqual(["second.png", "second.png.p7s"]);
  });
});

describe("sis admin rm (M29)", () => {
  test("deletes any user's image while the server runs: gone from LIST and DOWNLOAD, blob removed, quota freed, a running watch told", async () => {
    const id = (await listed("alice")).find((i) => i.name === "second.png")!.id;
    await using w = startWatch(home("carol"), join(home("carol"), "out-admin"));
    await w.waitFor(/ saved alice\/second\.png /);
    const r = await sis(["admin", "rm", "alice/second.png", "--data", data]);
    expectRun(r, { code: 0, stderr: "", stdout: /^deleted alice\/second\.png \(#\d+, \d+ bytes stored\) from the server\n$/ });
    // Another process: the server reads the deletion from its log (ports.ts ST12) at its next poll.
    await w.waitFor(/deleted on the server: alice\/second\.png \(#\d+\); a copy saved here is kept$/);
    expect(w.proc.exitCode).toBeNull();
    expect((await listed("bob")).map((i) => i.name)).not.toContain("second.png");
    expectRun(await sis(["get", id, "--home", home("bob"), "-o", join(home("bob"), "got")]), { code: 1, stderr: /\(NOT_FOUND\)\n$/ });
    expect(blobs()).not.toContain(id);
    expect((await usageOf("alice")).bytes).toBe(0);
    expectRun(await sis(["admin", "rm", "alice/second.png", "--data", data]), { code: 2, stderr: /no image alice\/second\.png/ });
    expectRun(await sis(["admin", "rm", "second.png", "--data", data]), { code: 2, stderr: /OWNER\/NAME/ });
  });
});

describe("on a server with --post-rate 2 and the default quota", () => {
  let dave: string;
  let erin: string;
  beforeAll(async () => {
    rated = await startServe(ratedDirs.data, ["--post-rate", "2"]);
    dave = join(ratedDirs.homes, "dave");
    erin = join(ratedDirs.homes, "erin");
    for (const r of await Promise.all([register(rated, "dave", dave), register(rated, "erin", erin)])) expectRun(r, { code: 0, stderr: "" });
  }, 90_000);

  test("a download under way when the image is deleted completes (the open blob stays readable); the next DOWNLOAD is NOT_FOUND", async () => {
    const big = join(dave, "big.png");
    await writeBigPng(big, 24 * 1024 * 1024);
    expectRun(await sis(["post", "--home", dave, "--name", "big.png", big]), { code: 0, stderr: "" });
    const conn = await paused(rated!, erin, "erin");
    try {
      conn.send({ type: "DOWNLOAD", owner: "dave", name: "big.png" });
      const image = await conn.message();
      expect(image.type).toBe("IMAGE");
      const dataSize = (image as Extract<ServerMessage, { type: "IMAGE" }>).dataSize;
      // Not reading: the server's send waits on the socket, with most of the image still on disk.
      expectRun(await sis(["rm", "big.png", "--home", dave]), { code: 0, stderr: "" });
      // The file is unlinked before most of it was read: what follows comes from the open descriptor.
      expect(existsSync(join(ratedDirs.data, "blobs", (image as Extract<ServerMessage, { type: "IMAGE" }>).image.id))).toBe(false);
      expect(await conn.dataBytes(dataSize)).toBe(dataSize);
      conn.send({ type: "DOWNLOAD", owner: "dave", name: "big.png" });
      expect(await conn.message()).toMatchObject({ type: "ERROR", code: "NOT_FOUND" });
    } finally {
      conn.close();
    }
  });

  test("over --post-rate a post is refused with RATE_LIMITED and how long to wait; sis waits that long, says so, and posts (M26)", async () => {
    // big.png above was the first post of this minute.
    expectRun(await sis(["post", "--home", dave, "--name", "r1.png", SAMPLE.png]), { code: 0, stderr: "" });
    const r = await sis(["post", "--home", dave, "--name", "r2.png", SAMPLE.png], { timeoutMs: 80_000 });
    expect(r.stderr).toMatch(/^sis: the server takes at most 2 posts a minute per user; waiting ([1-9]|[1-5]\d|60) s, then trying again\n$/);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("posted dave/r2.png id ");
    // The rate is per user: erin posts.
    expectRun(await sis(["post", "--home", erin, "--name", "e1.png", SAMPLE.png]), { code: 0, stderr: "" });
  });
});

/** A client connection with HOME's certificate that reads only when asked (TCP backpressure reaches the server). */
async function paused(to: ServerProcess, homeDir: string, user: string) {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: to.port, rejectUnauthorized: false, cert: readFileSync(join(homeDir, "cert.pem")), key: readFileSync(join(homeDir, "key.pem")) }, () => resolve(s));
    s.once("error", reject);
    s.on("data", (chunk: Buffer) => {
      frames.push(...decoder.push(new Uint8Array(chunk)));
      // Pushes (NEW_IMAGE, IMAGE_DELETED) are not replies.
      for (let i = frames.length - 1; i >= 0; i--) {
        const f = frames[i]!;
        if (f.kind === CONTROL && /"type":"(NEW_IMAGE|IMAGE_DELETED)"/.test(new TextDecoder().decode(f.payload.subarray(0, 40)))) frames.splice(i, 1);
      }
      s.pause();
      wake?.();
    });
    s.on("close", () => {
      closed = true;
      wake?.();
    });
  });
  const frame = async (): Promise<Frame> => {
    while (frames.length === 0) {
      if (closed) throw new Error("the server closed the connection");
      socket.resume();
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
    return frames.shift()!;
  };
  const conn = {
    send: (m: Parameters<typeof encodeMessage>[0]) => void socket.write(encodeMessage(m)),
    async message(): Promise<ServerMessage> {
      const f = await frame();
      if (f.kind !== CONTROL) throw new Error("a data frame where a message was expected");
      return decodeServerMessage(f.payload);
    },
    /** Reads data frames until `size` bytes came, or a message came instead (then: the bytes so far). */
    async dataBytes(size: number): Promise<number> {
      let n = 0;
      while (n < size) {
        const f = await frame();
        if (f.kind !== DATA) return n;
        n += f.payload.length;
      }
      return n;
    },
    close: () => socket.destroy(),
  };
  conn.send({ type: "HELLO", protocol: "sis", version: 1, client: "paused-test" });
  const hello = await conn.message();
  if (hello.type !== "HELLO" || hello.user !== user) throw new Error(`unexpected HELLO reply ${JSON.stringify(hello).slice(0, 200)}`);
  return conn;
}
