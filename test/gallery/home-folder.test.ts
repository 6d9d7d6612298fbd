/**
 * The compiled binary end to end: `sis watch -o DIR` is remembered and `sis gallery` shows DIR without flags (and says so);
 * the "live" mark follows the watch; a watch into a new folder receives the older images; `sis get --all` skips what is there.
 * The first test also opens that gallery in headless Chromium: the page names the remembered folder and shows its previews.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { SIS, sis, startWatch } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, escapeRegExp, sameFiles } from "../support/share.ts";
import { gradientPng } from "./png.ts";

let box: Sandbox;
let bob: string;

beforeAll(async () => {
  box = await openSandbox("sis-gallery-home-", ["alice", "bob"]);
  bob = box.home("bob");
  for (const file of [SAMPLE.png, SAMPLE.jpg]) {
    const r = await sis(["post", "--quiet", "--home", box.home("alice"), file]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  writeFileSync(join(box.root, "tall.png"), gradientPng([250, 200, 0], [0, 120, 40], 200, 400));
  expect(spawnSync("heif-enc", ["-q", "60", "-o", join(box.root, "tall.heic"), join(box.root, "tall.png")]).status).toBe(0);
  // A HEIC too: its preview is made (libheif as wasm) inside the compiled binary.
  const posted = await sis(["post", "--quiet", "--home", box.home("alice"), join(box.root, "tall.heic")]);
  expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
}, 90_000);

const IMAGES = () => ["sample.jpg", "sample.png", "tall.heic"];
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
    /** The address as printed, token included: what a person opens. */
    printed: m[1]! + "?token=" + m[2]!,
    api: async <T>(path: string): Promise<T> => (await (await fetch(m[1]! + path, { headers })).json()) as T,
    get: (path: string) => fetch(m[1]! + path.replace(/^\//, ""), { headers }),
    stop: async () => {
      proc.kill("SIGTERM");
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      return { code, stderr };
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

test("watch -o DIR is remembered; gallery shows DIR without flags and says so, in Chromium too; the live mark is true while the watch runs and false after", async () => {
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
    await watch.waitFor(/saved alice\/tall\.heic/);
    const listed = await gallery.api<{ dir: string; images: { name: string; verified: boolean; thumb: string }[] }>("api/images");
    expect(listed.dir).toBe(dir);
    expect(listed.images.map((i) => [i.name, i.verified]).sort()).toEqual(IMAGES().map((n) => [n, true]));
    // Previews made inside the compiled binary (mozjpeg and libheif as wasm, pngjs), in advance once the list
    // was asked for (no preview has been requested yet), cached in the home under the images' SHA-256.
    const made = () => (existsSync(join(bob, "thumbnails")) ? readdirSync(join(bob, "thumbnails")).filter((f) => /^[0-9a-f]{64}-320\.jpg$/.test(f)).length : 0);
    for (let i = 0; i < 600 && made() < IMAGES().length; i++) await Bun.sleep(50); // bounded poll: no event tells
    expect(made()).toBe(IMAGES().length);
    for (const image of listed.images) {
      const res = await gallery.get(image.thumb);
      expect([image.name, res.status, res.headers.get("content-type")]).toEqual([image.name, 200, "image/jpeg"]);
      expect([...new Uint8Array(await res.arrayBuffer()).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    }
    expect(made()).toBe(IMAGES().length);
    // What a person sees, in real Chromium: the page names the remembered folder (no -o was given) and the grid
    // shows every image through its preview (the HEIC one converted), the watch's mark live.
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(60_000);
      await page.goto(gallery.printed);
      await page.waitForFunction((n) => document.querySelectorAll(".card img").length === n, IMAGES().length);
      await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0));
      expect(await page.locator("#summary").innerText()).toBe(`${IMAGES().length} images in ${dir}`);
      const sources = await page.locator(".card img").evaluateAll((imgs) => imgs.map((img) => new URL((img as HTMLImageElement).src).pathname).sort());
      expect(sources).toEqual(IMAGES().map((n) => `/previews/alice/${n}`));
      await page.waitForSelector("#live[data-running=true]");
    } finally {
      await browser.close();
    }
    const live = await gallery.api<{ running: boolean; lastImageAt: string | null }>("api/live");
    expect(live.running).toBe(true);
    expect(Number.isNaN(Date.parse(live.lastImageAt!))).toBe(false);

    await watch.stop("SIGTERM");
    expect(existsSync(join(bob, "watch-live.json"))).toBe(false);
    await liveBecomes(gallery.api, false);
    // The previews were made in the worker thread (it is embedded as the build's second entry point).
    const ended = await gallery.stop();
    gallery = null;
    expect(ended).toEqual({ code: 0, stderr: "" });
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
      await watch.waitFor(/saved alice\/tall\.heic/);
    } finally {
      await watch.stop();
    }
    expect(await sameFiles(join(dir, "alice", "sample.png"), SAMPLE.png)).toBe(true);
  }
  // Back to the first folder: its position says both were handled, so nothing is fetched again.
  const again = startWatch(bob, first);
  try {
    await again.waitFor(new RegExp(`catching up after #${IMAGES().length}\\b`));
  } finally {
    await again.stop();
  }
}, 90_000);

test("get --all fetches every image into a folder, verified; a second run skips what is there; a removed file is fetched again", async () => {
  const dir = box.freshDir("sync");
  const posted = ["sample.png", "sample.jpg", "tall.heic"]; // oldest first
  const n = posted.length;
  const get = () => sis(["get", "--all", "--home", bob, "-o", dir]);
  const r1 = await get();
  expect({ code: r1.code, stderr: r1.stderr }).toEqual({ code: 0, stderr: "" });
  const saved = (name: string) => `saved alice/${escapeRegExp(name)}: signature by alice \\(serial [0-9a-f]+\\) verified -> .+\\n`;
  expect(r1.stdout).toMatch(new RegExp(`^${posted.map(saved).join("")}${n} saved, 0 already there in .+\\n$`));
  const r2 = await get();
  expect(r2).toEqual({ code: 0, stderr: "", stdout: `${posted.map((f) => `already there alice/${f}: verified, skipped\n`).join("")}0 saved, ${n} already there in ${dir}\n` });
  rmSync(join(dir, "alice", "sample.jpg"));
  const r3 = await get();
  expect({ code: r3.code, stderr: r3.stderr }).toEqual({ code: 0, stderr: "" });
  const third = posted.map((f) => (f === "sample.jpg" ? saved(f) : `already there alice/${escapeRegExp(f)}: verified, skipped\\n`)).join("");
  expect(r3.stdout).toMatch(new RegExp(`^${third}1 saved, ${n - 1} already there in .+\\n$`));
  expect(await sameFiles(join(dir, "alice", "sample.jpg"), SAMPLE.jpg)).toBe(true);
  expect(await sis(["get", "--all", "alice/sample.png", "--home", bob])).toMatchObject({ code: 2 });
}, 90_000);
