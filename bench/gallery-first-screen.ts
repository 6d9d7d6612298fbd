/**
 * The gallery's first screen in real headless Chromium: 100 saved JPEG photos of 5 MiB each (signed locally by a
 * registered user, as sis watch would have saved them), bytes transferred (CDP network events) and times to first
 * paint and to the first screen's previews, with a cold and a warm preview cache. Run: bun bench/gallery-first-screen.ts
 */
import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { chromium } from "playwright-core";
import { createImageDigest, signImage } from "../src/crypto/index.ts";
import { createGalleryApp, GALLERY_IDLE_TIMEOUT_S } from "../src/gallery/app.ts";
import { newGalleryToken } from "../src/gallery/token.ts";
import { startGalleryFixture } from "../test/gallery/fixture.ts";

const COUNT = Number(process.env.SIS_GALLERY_IMAGES ?? 100);
const TARGET = 5 * 1024 * 1024;

/** A photo-like 4000×3000 JPEG (smooth shading and grain) of about 5 MiB: grain decides the size. */
function photo(): Uint8Array {
  const width = 4000;
  const height = 3000;
  const data = Buffer.alloc(width * height * 4);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const g = (rnd() - 0.5) * 56;
      data[i] = Math.max(0, Math.min(255, 90 + (x / width) * 140 + g));
      data[i + 1] = Math.max(0, Math.min(255, 120 + Math.sin(y / 300) * 60 + g));
      data[i + 2] = Math.max(0, Math.min(255, 200 - (y / height) * 120 + g));
      data[i + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ width, height, data }, 90).data);
}

/** The same photo with a COM segment that makes each file (and its SHA-256, the preview cache key) different, padded to 5 MiB. */
function variant(base: Uint8Array, n: number): Uint8Array {
  const pad = Math.max(16, Math.min(65000, TARGET - base.length - 4));
  const com = new Uint8Array(4 + pad);
  com.set([0xff, 0xfe, ((pad + 2) >> 8) & 0xff, (pad + 2) & 0xff]);
  com.set(new TextEncoder().encode(`photo ${n}`), 4);
  const out = new Uint8Array(base.length + com.length);
  out.set(base.subarray(0, 2));
  out.set(com, 2);
  out.set(base.subarray(2), 2 + com.length);
  return out;
}

async function firstScreen(browser: Awaited<ReturnType<typeof chromium.launch>>, url: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  let bytes = 0;
  let requests = 0;
  cdp.on("Network.loadingFinished", (e) => {
    bytes += e.encodedDataLength;
    requests++;
  });
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction((n) => document.querySelectorAll(".card").length === n, COUNT, { timeout: 600_000 });
  // The first screen: every preview whose card is in the viewport has loaded.
  await page.waitForFunction(
    () => [...document.images].filter((img) => img.getBoundingClientRect().top < innerHeight).every((img) => img.complete && img.naturalWidth > 0),
    undefined,
    { timeout: 600_000, polling: 100 },
  );
  const screenMs = Date.now() - start;
  const paint = await page.evaluate(() => performance.getEntriesByType("paint").map((p) => [p.name, Math.round(p.startTime)]));
  await page.close();
  return { bytes, requests, screenMs, paint: Object.fromEntries(paint) as Record<string, number> };
}

await using fx = await startGalleryFixture();
const base = photo();
console.error(`one photo: ${base.length} bytes`);
const owner = "alice";
mkdirSync(join(fx.dir, owner), { recursive: true });
let total = 0;
for (let n = 1; n <= COUNT; n++) {
  const bytes = variant(base, n);
  const name = `photo-${String(n).padStart(3, "0")}.jpg`;
  const digest = createImageDigest();
  digest.update(bytes);
  const signature = await signImage({ digest: digest.digest(), owner, name, contentType: "image/jpeg", certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.keyPkcs8 });
  writeFileSync(join(fx.dir, owner, name), bytes);
  writeFileSync(join(fx.dir, owner, name + ".p7s"), signature);
  total += bytes.length;
}
const homeDir = join(fx.root, "gallery-home");
mkdirSync(homeDir);
const token = newGalleryToken();
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token, homeDir }).fetch, idleTimeout: GALLERY_IDLE_TIMEOUT_S });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
try {
  const url = `http://127.0.0.1:${server.port}/?token=${token}`;
  const cold = await firstScreen(browser, url);
  const warm = await firstScreen(browser, url);
  const result = { images: COUNT, imageBytes: Math.round(total / COUNT), originalsBytes: total, cold, warm };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.stop(true);
}
