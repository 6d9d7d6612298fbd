/**
 * The compiled binary end to end: `sis watch -o DIR` is remembered and `sis gallery` shows DIR without flags (and says so);
 * the "live" mark follows the watch; a watch into a new folder receives the older images; `sis get --all` skips what is there.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SIS, sis, startWatch } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, sameBytes } from "../support/share.ts";

let box: Sandbox;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-gallery-home-", ["alice", "bob"]);
  bob = box.home("bob");
  for (const file of [SAMPLE.png, SAMPLE.jpg]) {
    const r = await sis(["post", "--quiet", "--home", box.home("alice"), file]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
}, 90_000);
afterAll(async () => {
  await box?.close();
});

async function startGallery(home: string) {
  const proc = Bun.spawn([SIS, "gallery", "--port", "0", "--home", home], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sis gallery exited: ${out}${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const m = /^gallery: (http:\/\/127\.0\.0\.1:\d+\/)\?token=([A-Za-z0-9_-]+) \(images from (.+)\)\n$/.exec(out)!;
  expect(m).not.toBeNull();
  const headers = { authorization: `Bearer ${m[2]}` };
  return {
    from: m[3]!,
    api: async <T>(path: string): Promise<T> => (await (await fetch(m[1]! + path, { headers })).json()) as T,
    stop: async () => {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
}

/** The liveness poll answers from the heartbeat file at once; this waits for a state the watch is about to reach. */
async function liveBecomes(api: (p: string) => Promise<{ running: boolean }>, running: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await api("api/live")).running === running) return;
    await Bun.sleep(50);
  }
  throw new Error(`the live mark never became ${running}`);
}

test("watch -o DIR is remembered; gallery shows DIR without flags and says so; the live mark is true while the watch runs and false after", async () => {
  const dir = box.freshDir("pictures");
  const watch = startWatch(bob, dir);
  let gallery: Awaited<ReturnType<typeof startGallery>> | null = null;
  try {
    await watch.waitFor(/saved alice\/sample\.png/);
    await watch.waitFor(/saved alice\/sample\.jpg/);
    expect(JSON.parse(readFileSync(join(bob, "settings.json"), "utf8"))).toEqual({ outputDir: dir });
    expect(JSON.parse(readFileSync(join(bob, "watch-live.json"), "utf8"))).toMatchObject({ pid: watch.proc.pid, outDir: dir });

    gallery = await startGallery(bob);
    expect(gallery.from).toBe(`${dir}: where 'sis watch -o' saves, remembered in the home`);
    const listed = await gallery.api<{ dir: string; images: { name: string; verified: boolean }[] }>("api/images");
    expect(listed.dir).toBe(dir);
    expect(listed.images.map((i) => [i.name, i.verified]).sort()).toEqual([["sample.jpg", true], ["sample.png", true]]);
    const live = await gallery.api<{ running: boolean; lastImageAt: string | null }>("api/live");
    expect(live.running).toBe(true);
    expect(Number.isNaN(Date.parse(live.lastImageAt!))).toBe(false);

    await watch.stop("SIGTERM");
    expect(existsSync(join(bob, "watch-live.json"))).toBe(false);
    await liveBecomes(gallery.api, false);
  } finally {
    await watch.stop();
    await gallery?.stop();
  }
}, 90_000);

test("a watch into a new -o folder receives the older images too (one position per folder), and the old folder keeps its own", async () => {
  const first = box.freshDir("first");
  const second = box.freshDir("second");
  for (const dir of [first, second]) {
    const watch = startWatch(bob, dir);
    try {
      await watch.waitFor(/saved alice\/sample\.png/);
      await watch.waitFor(/saved alice\/sample\.jpg/);
    } finally {
      await watch.stop();
    }
    expect(await sameBytes(join(dir, "alice", "sample.png"), SAMPLE.png)).toBe(true);
  }
  // Back to the first folder: its position says both were handled, so nothing is fetched again.
  const again = startWatch(bob, first);
  try {
    await again.waitFor(/catching up after #2\b/);
  } finally {
    await again.stop();
  }
}, 90_000);

test("get --all fetches every image into a folder, verified; a second run skips what is there; a removed file is fetched again", async () => {
  const dir = box.freshDir("sync");
  const get = () => sis(["get", "--all", "--home", bob, "-o", dir]);
  const r1 = await get();
  expect({ code: r1.code, stderr: r1.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r1.stdout).toMatch(/^saved alice\/sample\.png: signature by alice \(serial [0-9a-f]+\) verified -> .+\nsaved alice\/sample\.jpg: .+\n2 saved, 0 already there in .+\n$/);
  const r2 = await get();
  expect(r2).toEqual({ code: 0, stderr: "", stdout: `already there alice/sample.png: verified, skipped\nalready there alice/sample.jpg: verified, skipped\n0 saved, 2 already there in ${dir}\n` });
  rmSync(join(dir, "alice", "sample.jpg"));
  const r3 = await get();
  expect({ code: r3.code, stderr: r3.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r3.stdout).toMatch(/^already there alice\/sample\.png: verified, skipped\nsaved alice\/sample\.jpg: .+\n1 saved, 1 already there in .+\n$/);
  expect(await sameBytes(join(dir, "alice", "sample.jpg"), SAMPLE.jpg)).toBe(true);
  expect(await sis(["get", "--all", "alice/sample.png", "--home", bob])).toMatchObject({ code: 2 });
}, 90_000);
