/**
 * An image the client cannot save (the file system refuses it) through the compiled binary: watch refuses it
 * once, records it and goes on; get says `sis: cannot save …`; saved images are private (0700/0600); the
 * longest name P20 allows is saved with its NAME.p7s (the bound leaves room for every file sis writes).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Home } from "../../src/client/home.ts";
import { IMAGE_NAME_MAX_BYTES } from "../../src/protocol/index.ts";
import { watchStatePath } from "../../src/client/watch-state.ts";
import { SIS, sis, startWatch, type WatchProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { escapeRegExp, imageLines, listFiles, postedId, SAMPLE, sameFiles, writeBigPng } from "../support/share.ts";

setDefaultTimeout(120_000);

let box: Sandbox;
let alice: string;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-save-failure-", ["alice", "bob"]);
  alice = box.home("alice");
  bob = box.home("bob");
}, 90_000);

afterAll(async () => {
  await box?.close();
});

/**
 * Runs sis with a file size limit of 4 MiB (SIGXFSZ ignored, so a write past it fails with EFBIG):
 * a save the file system refuses, whatever the name rules, and also for root, who passes any permission check.
 */
const LIMITED = ["bash", "-c", `trap '' XFSZ; ulimit -f 4096; exec "$0" "$@"`];
const BIG = 6 * 1024 * 1024;

async function alicePosts(path: string, name: string): Promise<string> {
  const r = await sis(["post", "--home", alice, "--name", name, path]);
  expect({ name, code: r.code, stderr: r.stderr }).toEqual({ name, code: 0, stderr: "" });
  return postedId(r, "alice", name);
}

const about = (w: WatchProcess, name: string) => imageLines(w).filter((l) => l.includes(` alice/${name} `));
const CANNOT_SAVE = (dir: string, name: string) =>
  new RegExp(`^sis: cannot save ${escapeRegExp(join(dir, "alice", name))}: the file is larger than this process may write \\(file size limit\\); nothing was saved \\(raise the limit \\(ulimit -f\\), or save elsewhere with -o\\)\\n$`);

describe("an image the file system refuses to save", () => {
  test("watch refuses it once, records it, saves the next image, and never fetches it again", async () => {
    const big = join(box.root, "too-big.png");
    await writeBigPng(big, BIG);
    const out = box.freshDir("out");
    const badId = await alicePosts(big, "too-big.png");
    await alicePosts(SAMPLE.jpg, "after-bad.jpg");
    {
      await using w = startWatch(bob, out, { prefix: LIMITED });
      const refused = await w.waitFor(/ refused alice\/too-big\.png /);
      expect(`${refused.replace(/^\S+ refused alice\/too-big\.png \(#\d+\): /, "sis: ")}\n`).toMatch(CANNOT_SAVE(out, "too-big.png"));
      await w.waitFor(/ saved alice\/after-bad\.jpg /);
      // Downloaded once: one line about it, and the connection was never dropped to retry it.
      expect(about(w, "too-big.png")).toHaveLength(1);
      expect(w.lines.filter((l) => / disconnected| not connected/.test(l))).toEqual([]);
      expect(w.lines.filter((l) => / connected to /.test(l))).toHaveLength(1);
      // Not a terminal: no progress bar for the 6 MiB download, in either stream.
      expect(w.lines.filter((l) => /getting |\r|\x1b/.test(l))).toEqual([]);
      await w.stop("SIGINT");
      expect(w.proc.exitCode).toBe(0);
      expect(w.errLines.at(-1)).toMatch(/ stopped \(SIGINT\): 1 received, 1 refused, 0 already saved; the next watch resumes after #\d+$/);
    }
    expect(await listFiles(out)).toEqual(["alice/after-bad.jpg", "alice/after-bad.jpg.p7s"]);
    expect(await sameFiles(SAMPLE.jpg, join(out, "alice", "after-bad.jpg"))).toBe(true);
    const state = JSON.parse(readFileSync(watchStatePath(new Home(bob), out), "utf8")) as { refused: { id: string; label: string; reason: string }[] };
    expect(state.refused.map((r) => [r.id, r.label])).toEqual([[badId, "alice/too-big.png"]]);
    expect(state.refused[0]!.reason).toContain("file size limit");
    {
      // Without the limit now: the refused image stays refused (the cursor is past it), the next one arrives.
      await using w = startWatch(bob, out);
      await w.waitFor(/ connected to /);
      await alicePosts(SAMPLE.png, "later.png");
      await w.waitFor(/ saved alice\/later\.png /);
      expect(about(w, "too-big.png")).toEqual([]);
      expect(imageLines(w)).toHaveLength(1);
      await w.stop();
    }
  });

  test("sis get exits 1 with `sis: cannot save PATH: reason` and leaves nothing behind", async () => {
    const out = box.freshDir("out");
    const proc = Bun.spawn([...LIMITED, SIS, "get", "alice/too-big.png", "--home", bob, "-o", out], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stdout }).toEqual({ code: 1, stdout: "" });
    expect(stderr).toMatch(CANNOT_SAVE(out, "too-big.png"));
    expect(await listFiles(out)).toEqual([]);
  });
});

describe("saved images are private to the receiver", () => {
  const mode = (path: string) => statSync(path).mode & 0o777;

  test("sis get creates folders 0700 and files 0600", async () => {
    await alicePosts(SAMPLE.gif, "private-get.gif");
    const out = join(box.root, "get-out-new");
    const r = await sis(["get", "alice/private-get.gif", "--home", bob, "-o", out]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect([mode(out), mode(join(out, "alice")), mode(join(out, "alice", "private-get.gif")), mode(join(out, "alice", "private-get.gif.p7s"))]).toEqual([0o700, 0o700, 0o600, 0o600]);
  });

  test("sis watch -o DIR creates folders 0700 and files 0600", async () => {
    const out = join(box.root, "watch-out-new");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    await alicePosts(SAMPLE.webp, "private-watch.webp");
    await w.waitFor(/ saved alice\/private-watch\.webp /);
    expect([mode(out), mode(join(out, "alice")), mode(join(out, "alice", "private-watch.webp")), mode(join(out, "alice", "private-watch.webp.p7s"))]).toEqual([0o700, 0o700, 0o600, 0o600]);
    await w.stop();
  });
});

describe("the longest image name P20 allows", () => {
  // 118 two-byte letters and ".png": exactly IMAGE_NAME_MAX_BYTES (240) bytes of UTF-8. NAME.p7s is 244
  // bytes, which a 255-byte file name limit takes; a 252-byte name (valid before P20 had this bound)
  // made link() of NAME.p7s fail with ENAMETOOLONG and every watcher download it again in a loop.
  const name = `${"\u00e9".repeat(118)}.png`;

  test("is posted, and saved by watch and by get with its NAME.p7s beside it", async () => {
    expect(Buffer.byteLength(name)).toBe(IMAGE_NAME_MAX_BYTES);
    const out = box.freshDir("out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to /);
    await alicePosts(SAMPLE.png, name);
    await w.waitFor(new RegExp(` saved alice/${escapeRegExp(name)} `));
    await w.stop();
    expect(imageLines(w).filter((l) => / refused /.test(l))).toEqual([]);
    const got = box.freshDir("out");
    const r = await sis(["get", `alice/${name}`, "--home", bob, "-o", got]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    for (const dir of [out, got]) {
      const files = (await listFiles(dir)).filter((f) => f.startsWith(`alice/${name}`));
      expect(files).toEqual([`alice/${name}`, `alice/${name}.p7s`]);
      expect(await sameFiles(SAMPLE.png, join(dir, "alice", name))).toBe(true);
    }
  });

  test("one byte more is refused by the posting client, blamed on the name, and nothing is posted", async () => {
    const longer = `x${name}`;
    const r = await sis(["post", "--home", alice, "--name", longer, SAMPLE.png]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
    expect(r.stderr).toContain(`an image name has at most ${IMAGE_NAME_MAX_BYTES} bytes`);
    const listed = JSON.parse((await sis(["list", "--json", "--home", bob])).stdout) as { name: string }[];
    expect(listed.filter((i) => i.name === longer)).toEqual([]);
  });
});
