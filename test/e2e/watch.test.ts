/** sis watch through the compiled binary: live delivery, catching up once, a server restart, refusals. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sis, startServe, startWatch, type ServerProcess, type WatchProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { escapeRegExp, imageLines, listFiles, SAMPLE, sameFiles, waitForLineAfter } from "../support/share.ts";

let box: Sandbox;
let server: ServerProcess;
let alice: string;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-watch-", ["alice", "bob"]);
  ({ server } = box);
  alice = box.home("alice");
  bob = box.home("bob");
}, 60_000);

afterAll(async () => {
  await server?.stop(); // the restart test replaces the sandbox's server with its own
  await box?.close();
});

const freshDir = (label: string): string => box.freshDir(label);

async function alicePosts(files: [path: string, name: string][]): Promise<void> {
  for (const [path, name] of files) {
    const r = await sis(["post", "--home", alice, "--name", name, path]);
    expect({ name, code: r.code, stderr: r.stderr }).toEqual({ name, code: 0, stderr: "" });
    expect(r.stdout).toStartWith(`posted alice/${name} id `);
  }
}

const savedLine = (name: string) => new RegExp(`^\\S+ saved alice/${escapeRegExp(name)} \\(#\\d+\\): signature by alice \\(serial [0-9a-f]+\\) verified -> `);
/** The watch's image lines about the images whose names start with `prefix` (earlier tests' images are caught up too). */
const linesAbout = (w: WatchProcess, prefix: string, from = 0) => imageLines(w, from).filter((l) => l.includes(` alice/${prefix}`));

/** Stops a watch and checks it ended cleanly, having printed only its own timestamped lines (no stderr). */
async function stopWatch(w: WatchProcess): Promise<void> {
  await w.stop();
  expect(w.proc.exitCode).toBe(0);
  for (const line of w.lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z /);
}

describe("sis watch", () => {
  test("bob's watch saves alice's PNG and JPEG byte-identical, one line each, with .p7s files openssl accepts", async () => {
    const out = freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
    await alicePosts([[SAMPLE.png, "live.png"], [SAMPLE.jpg, "live.jpg"]]);
    await w.waitFor(savedLine("live.png"));
    await w.waitFor(savedLine("live.jpg"));
    expect(linesAbout(w, "live.")).toHaveLength(2);
    expect(await listFiles(out)).toEqual(["alice/live.jpg", "alice/live.jpg.p7s", "alice/live.png", "alice/live.png.p7s"]);
    expect(await sameFiles(SAMPLE.png, join(out, "alice", "live.png"))).toBe(true);
    expect(await sameFiles(SAMPLE.jpg, join(out, "alice", "live.jpg"))).toBe(true);
    for (const name of ["live.png", "live.jpg"]) {
      const file = join(out, "alice", name);
      const v = Bun.spawnSync(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", `${file}.p7s`, "-content", file, "-CAfile", join(bob, "ca.pem"), "-purpose", "any", "-out", "/dev/null"]);
      expect({ name, code: v.exitCode, stderr: v.stderr.toString() }).toEqual({ name, code: 0, stderr: "CMS Verification successful\n" });
    }
    await stopWatch(w);
  });

  test("images posted while bob is offline arrive exactly once, also across a restart of his watch", async () => {
    const posted: [string, string][] = [[SAMPLE.png, "offline-1.png"], [SAMPLE.jpg, "offline-2.jpg"], [SAMPLE.gif, "offline-3.gif"]];
    await alicePosts(posted);
    const out = freshDir("out");
    {
      await using w = startWatch(bob, out);
      for (const [, name] of posted) await w.waitFor(savedLine(name));
      expect(linesAbout(w, "offline-").map((l) => /alice\/(\S+)/.exec(l)![1]).sort()).toEqual(["offline-1.png", "offline-2.jpg", "offline-3.gif"]);
      await stopWatch(w);
    }
    {
      // A second run resumes after the last image handled: nothing is fetched twice.
      await using w = startWatch(bob, out);
      await w.waitFor(/ connected to /);
      await alicePosts([[SAMPLE.webp, "offline-4.webp"]]);
      await w.waitFor(savedLine("offline-4.webp"));
      expect(linesAbout(w, "offline-")).toHaveLength(1);
      await stopWatch(w);
    }
    // Issue 14: a new folder also receives the images posted before (earlier tests' too), so only this test's are compared.
    expect((await listFiles(out)).filter((f) => f.startsWith("alice/offline-"))).toEqual(["offline-1.png", "offline-2.jpg", "offline-3.gif", "offline-4.webp"].flatMap((f) => [`alice/${f}`, `alice/${f}.p7s`]).sort());
    for (const [path, name] of [...posted, [SAMPLE.webp, "offline-4.webp"]]) expect({ name, same: await sameFiles(path!, join(out, "alice", name!)) }).toEqual({ name, same: true });
  });

  test("watch reconnects when the server restarts on the same port and delivers the next image", async () => {
    const out = freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    const port = server.port;
    const before = w.lines.length;
    await server.stop();
    expect(server.proc.exitCode).toBe(0);
    await waitForLineAfter(w, before, / disconnected: .*; reconnecting in [\d.]+ s$/);
    const restarted = await startServe(server.dataDir, ["--port", String(port)]);
    server = restarted;
    expect(restarted.port).toBe(port);
    const after = w.lines.length;
    await waitForLineAfter(w, after, / connected to .* as bob; catching up after #\d+$/);
    await alicePosts([[SAMPLE.png, "restart.png"]]);
    await w.waitFor(savedLine("restart.png"));
    expect(linesAbout(w, "restart.")).toHaveLength(1);
    expect(await sameFiles(SAMPLE.png, join(out, "alice", "restart.png"))).toBe(true);
    await stopWatch(w);
  });

  test("watch prints one refused line for an image it cannot save and goes on with the next", async () => {
    const out = freshDir("out");
    mkdirSync(join(out, "alice"));
    writeFileSync(join(out, "alice", "refuse-clash.png"), "bob's own file\n");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    await alicePosts([[SAMPLE.png, "refuse-clash.png"], [SAMPLE.jpg, "refuse-ok.jpg"]]);
    const refused = await w.waitFor(/ refused alice\/refuse-clash\.png /);
    expect(refused).toMatch(/^\S+ refused alice\/refuse-clash\.png \(#\d+\): cannot save .*refuse-clash\.png: a different file with that name is already there; move it away or use -o$/);
    await w.waitFor(savedLine("refuse-ok.jpg"));
    expect(linesAbout(w, "refuse-")).toHaveLength(2);
    expect(readFileSync(join(out, "alice", "refuse-clash.png"), "utf8")).toBe("bob's own file\n");
    expect((await listFiles(out)).filter((f) => f.startsWith("alice/refuse-"))).toEqual(["alice/refuse-clash.png", "alice/refuse-ok.jpg", "alice/refuse-ok.jpg.p7s"]);
    expect(w.proc.exitCode).toBeNull();
    await stopWatch(w);
  });
});
