/**
 * The gallery in real headless Chromium: cards and marks as a person sees them, live arrival without a reload;
 * previews instead of originals (bytes counted from the browser's network events), a portrait JPEG and a portrait HEIC
 * (stripped by default: the orientation is what stays) upright, HEIC previews, the large view with its signer, the watch's
 * live mark, phone width. Screenshots go to test-artifacts/ (issue 14: look at them after a change to the page).
 */
// First, before anything loads @peculiar/x509: under bun test, src/pki/setup.ts alone loses that race now and then.
import "reflect-metadata";
import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { spawnSync } from "node:child_process";
import jpeg from "jpeg-js";
import { Home } from "../../src/client/home.ts";
import { WatchHeartbeat } from "../../src/client/watch-live.ts";
import { createGalleryApp, GALLERY_IDLE_TIMEOUT_S } from "../../src/gallery/app.ts";
import { newGalleryToken } from "../../src/gallery/token.ts";
import { startGalleryFixture } from "./fixture.ts";
import { gradientPng, noisePng } from "./png.ts";

const CHROMIUM = "/usr/bin/chromium";
const LAUNCH = {
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
};
const ARTIFACTS = join(import.meta.dir, "../../test-artifacts");
/** Starting the server, registering two users and launching Chromium take seconds, not the default 5. */
const BROWSER_TEST_TIMEOUT_MS = 150_000;
/** Playwright's own 30 s per wait is too short on a busy two-core machine: previews are made one at a time. */
const WAIT_MS = 60_000;
const VERIFIED = "verified (CA chain; revocation checked when saved)";

test("the gallery page shows the saved images with honest marks, and a newly saved image appears without a reload", async () => {
  await using fx = await startGalleryFixture();
  await fx.share("sunrise.png");
  await fx.share("lagoon.png");
  const tampered = await fx.share("tampered.png");
  const bytes = readFileSync(tampered.path);
  bytes[bytes.length - 20]! ^= 0xff;
  writeFileSync(tampered.path, bytes);

  const token = newGalleryToken();
  const app = createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: GALLERY_IDLE_TIMEOUT_S });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1180, height: 820 } });
    page.setDefaultTimeout(WAIT_MS);
    const problems: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(e.message));
    // The address sis gallery prints; the page's own requests then carry the cookie it sets (GA1).
    await page.goto(`http://127.0.0.1:${server.port}/?token=${token}`);
    expect(page.url()).toBe(`http://127.0.0.1:${server.port}/`);
    // Issue 14: the mark is about the watch, not the page's event stream; no watch runs here.
    await page.waitForSelector("body[data-events=open]");
    await page.waitForSelector("#live.off");
    await page.waitForFunction(() => document.querySelectorAll(".card").length === 3);
    const allImagesLoaded = () => [...document.images].every((img) => img.complete && img.naturalWidth > 0);
    await page.waitForFunction(allImagesLoaded);

    expect(await page.locator(".card.verified").count()).toBe(2);
    for (const name of ["sunrise.png", "lagoon.png"]) {
      const card = page.locator(`.card[data-name="${name}"]`);
      expect(await card.locator("h2").innerText()).toBe(`alice/${name}`);
      expect(await card.locator(".mark.ok").innerText()).toContain(VERIFIED);
      expect(await card.locator("img").count()).toBe(1);
    }
    const bad = page.locator('.card[data-name="tampered.png"]');
    expect(await bad.locator(".mark.ok").count()).toBe(0);
    expect(await bad.locator(".mark.bad").innerText()).toContain("NOT verified: the signature does not verify: the image does not match the signed digest");
    expect(await bad.locator("img").count()).toBe(0);

    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    await fx.share("arrival.png");
    await page.waitForSelector('.card[data-name="arrival.png"] .mark.ok');
    await page.waitForFunction(allImagesLoaded);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.locator(".card").count()).toBe(4);
    expect(await page.locator(".card").first().getAttribute("data-name")).toBe("arrival.png");

    const details = page.locator('.card[data-name="arrival.png"] details');
    await details.locator("summary").click();
    expect(await details.locator("dl").innerText()).toContain("CN=alice");
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "gallery.png"), fullPage: true, animations: "disabled" });
    expect(problems).toEqual([]);
    // Another browser, without the token, is refused.
    const stranger = await browser.newPage();
    const refused = await stranger.goto(`http://127.0.0.1:${server.port}/`);
    expect(refused?.status()).toBe(403);
    expect(await stranger.locator(".card").count()).toBe(0);
  } finally {
    await browser.close();
    await server.stop(true);
  }
}, BROWSER_TEST_TIMEOUT_MS);

/** A landscape 480×240 JPEG (red left half, blue right) marked EXIF Orientation 6 by exiftool: a phone's portrait photo. */
function portraitJpeg(dir: string): Uint8Array {
  const width = 480;
  const height = 240;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < width / 2 ? [200, 40, 40, 255] : [40, 60, 200, 255], (y * width + x) * 4);
  const path = join(dir, "portrait-source.jpg");
  writeFileSync(path, jpeg.encode({ width, height, data }, 90).data);
  expect(spawnSync("exiftool", ["-q", "-overwrite_original", "-n", "-Orientation=6", path]).status).toBe(0);
  return new Uint8Array(readFileSync(path));
}

/** A 400×800 HEIC made by heif-enc from a gradient PNG. */
function heicImage(dir: string): Uint8Array {
  writeFileSync(join(dir, "tall.png"), gradientPng([250, 200, 0], [0, 120, 40], 400, 800));
  expect(spawnSync("heif-enc", ["-q", "60", "-o", join(dir, "tall.heic"), join(dir, "tall.png")]).status).toBe(0);
  return new Uint8Array(readFileSync(join(dir, "tall.heic")));
}

test("the grid loads previews, not originals; a portrait stands upright; a click opens it large with its signer; the live mark follows the watch; phone width works", async () => {
  await using fx = await startGalleryFixture();
  const BIG = 6;
  let originals = 0;
  for (let i = 1; i <= BIG; i++) originals += (await fx.shareBytes(`noise-${i}.png`, noisePng(820, 640))).image.size;
  // Posted as sis post does by default: the metadata is stripped and only the orientation stays (issue 14).
  const portrait = await fx.shareBytes("portrait.jpg", portraitJpeg(fx.root));
  expect(spawnSync("exiftool", ["-s3", "-n", "-Orientation", portrait.path]).stdout.toString().trim()).toBe("6");
  await fx.shareBytes("tall.heic", heicImage(fx.root));
  // The phone-style fixture: 320×200 coded, irot 270 anti-clockwise, Display P3; upright it is 200×320.
  await fx.shareBytes("phone.heic", new Uint8Array(readFileSync(join(import.meta.dir, "../fixtures/images/portrait.heic"))));
  // AVIF the browser decodes itself (sent as it is, being small), irot applied by Chromium.
  await fx.shareBytes("phone.avif", new Uint8Array(readFileSync(join(import.meta.dir, "../fixtures/images/portrait.avif"))));
  const cards = BIG + 4;

  const homeDir = join(fx.root, "gallery-home");
  mkdirSync(homeDir);
  const home = new Home(homeDir);
  const heartbeat = new WatchHeartbeat(home, fx.dir);
  await heartbeat.start();
  heartbeat.imageSaved();
  const token = newGalleryToken();
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token, homeDir }).fetch, idleTimeout: GALLERY_IDLE_TIMEOUT_S });
  const browser = await chromium.launch(LAUNCH);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT_MS);
    const problems: string[] = [];
    page.on("pageerror", (e) => void problems.push(e.message));
    // Bytes on the wire, as Chromium counts them (headers and bodies).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    let transferred = 0;
    const fetched: string[] = [];
    cdp.on("Network.loadingFinished", (e) => void (transferred += e.encodedDataLength));
    cdp.on("Network.requestWillBeSent", (e) => void fetched.push(new URL(e.request.url).pathname));
    page.on("response", (r) => void (r.headers()["x-sis-no-preview"] && problems.push(`${r.url()}: no preview: ${r.headers()["x-sis-no-preview"]}`)));
    await page.goto(`http://127.0.0.1:${server.port}/?token=${token}`);
    await page.waitForFunction((n) => document.querySelectorAll(".card").length === n, cards);
    await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0));
    expect(fetched.filter((p) => p.startsWith("/images/"))).toEqual([]);
    expect(fetched.filter((p) => p.startsWith("/previews/")).length).toBe(cards);
    console.log(`first screen: ${transferred} bytes transferred for ${cards} images whose originals are ${originals} bytes`);
    expect(originals).toBeGreaterThan(BIG * 1_500_000);
    expect(transferred).toBeLessThan(originals / 8);
    // Previews are cached in the home: one file per image, under its SHA-256; the small AVIF needs none (sent as it is).
    expect(problems).toEqual([]);
    expect(readdirSync(join(homeDir, "thumbnails")).filter((f) => /^[0-9a-f]{64}-320\.jpg$/.test(f)).length).toBe(cards - 1);

    // The portrait: its box on the page is taller than wide, though its pixels are stored lying down.
    const box = await page.locator('.card[data-name="portrait.jpg"] img').boundingBox();
    expect(box!.height / box!.width).toBeCloseTo(2, 1);
    const natural = (name: string) => page.locator(`.card[data-name="${name}"] img`).evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight, new URL(img.src).pathname]);
    expect(await natural("tall.heic")).toEqual([160, 320, "/previews/alice/tall.heic"]);
    // The rotation (irot) is applied to the preview: the grid shows it standing, not as coded.
    expect(await natural("phone.heic")).toEqual([200, 320, "/previews/alice/phone.heic"]);
    const phoneBox = await page.locator('.card[data-name="phone.heic"] img').boundingBox();
    expect(phoneBox!.height / phoneBox!.width).toBeCloseTo(1.6, 1);
    expect(await natural("phone.avif")).toEqual([200, 320, "/previews/alice/phone.avif"]);

    // The live mark: a watch saves here (its heartbeat), and says when the last image came.
    await page.waitForSelector("#live[data-running=true]");
    expect(await page.locator("#live").innerText()).toMatch(/^live: watch running · last image .+/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "gallery-desktop.png"), animations: "disabled" });

    // A click opens it large, upright (Chromium applies the Orientation to the original), with its signer.
    await page.locator('.card[data-name="portrait.jpg"] .thumb').click();
    const viewer = page.locator("#viewer[open]");
    await viewer.locator("img").evaluate((img: HTMLImageElement) => img.decode());
    const large = await viewer.locator("img").boundingBox();
    expect(large!.height).toBeGreaterThan(large!.width * 1.5);
    expect(await viewer.locator("figcaption").innerText()).toContain("CN=alice");
    expect(await viewer.locator(".mark.ok").count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, "gallery-desktop-large.png"), animations: "disabled" });
    await page.keyboard.press("Escape");
    await page.waitForSelector("#viewer:not([open])", { state: "attached" });
    // HEIC large: a 1,600 px converted preview (this one is 400×800, not enlarged); the saved file stays the original.
    await page.locator('.card[data-name="tall.heic"] .thumb').click();
    const shown = await page.locator("#viewer[open] img").evaluate(async (img: HTMLImageElement) => (await img.decode(), [img.naturalWidth, img.naturalHeight, new URL(img.src).pathname]));
    expect(shown).toEqual([400, 800, "/previews/alice/tall.heic"]);
    await page.screenshot({ path: join(ARTIFACTS, "gallery-desktop-heic.png"), animations: "disabled" });
    await page.keyboard.press("Escape");
    await page.waitForSelector("#viewer:not([open])", { state: "attached" });

    await heartbeat.stop();
    await page.waitForSelector("#live[data-running=false]", { timeout: 20_000 });
    expect(await page.locator("#live").innerText()).toMatch(/^not live: no watch running · last image .+/);

    // Phone width: nothing wider than the screen, cards in two columns, the large view stacked.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    phone.setDefaultTimeout(WAIT_MS);
    await phone.goto(`http://127.0.0.1:${server.port}/?token=${token}`);
    await phone.waitForFunction((n) => document.querySelectorAll(".card").length === n, cards);
    await phone.waitForFunction(() => [...document.images].slice(0, 4).every((img) => img.complete && img.naturalWidth > 0));
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const [a, b] = await Promise.all([phone.locator(".card").nth(0).boundingBox(), phone.locator(".card").nth(1).boundingBox()]);
    expect(a!.y).toBe(b!.y);
    await phone.screenshot({ path: join(ARTIFACTS, "gallery-phone.png"), animations: "disabled" });
    await phone.locator('.card[data-name="portrait.jpg"] .thumb').tap();
    await phone.locator("#viewer[open] img").evaluate((img: HTMLImageElement) => img.decode());
    expect(await phone.evaluate(() => document.getElementById("viewer")!.getBoundingClientRect().width)).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: join(ARTIFACTS, "gallery-phone-large.png"), animations: "disabled" });
    console.log(`screenshots: ${ARTIFACTS}/gallery{,-desktop,-desktop-large,-desktop-heic,-phone,-phone-large}.png`);
    expect(problems).toEqual([]);
  } finally {
    await heartbeat.stop();
    await browser.close();
    await server.stop(true);
  }
}, BROWSER_TEST_TIMEOUT_MS);
