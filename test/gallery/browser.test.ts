/** The gallery in real headless Chromium: cards and marks as a person sees them, and live arrival without a reload. */
// First, before anything loads @peculiar/x509: under bun test, src/pki/setup.ts alone loses that race now and then.
import "reflect-metadata";
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { createGalleryApp } from "../../src/gallery/app.ts";
import { newGalleryToken } from "../../src/gallery/token.ts";
import { startGalleryFixture } from "./fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "../../test-artifacts");
/** Starting the server, registering two users and launching Chromium take seconds, not the default 5. */
const BROWSER_TEST_TIMEOUT_MS = 90_000;
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
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1180, height: 820 } });
    const problems: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(e.message));
    // The address sis gallery prints; the page's own requests then carry the cookie it sets (GA1).
    await page.goto(`http://127.0.0.1:${server.port}/?token=${token}`);
    expect(page.url()).toBe(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector("#live.on");
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
