/** Previews: decoded, shrunk to 320 px, turned upright by EXIF orientation (exiftool writes it), HEIC through libheif (heif-enc makes it); the watch's liveness. */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { Home } from "../../src/client/home.ts";
import { readWatchLiveness, STALE_MS, WatchHeartbeat } from "../../src/client/watch-live.ts";
import { loadWatchState, saveWatchState } from "../../src/client/watch-state.ts";
import { jpegOrientation } from "../../src/image/jpeg-facts.ts";
import { jpegDecoder } from "../../src/gallery/preview-decode.ts";
import { makePreview } from "../../src/gallery/thumbnails.ts";
import { tempDir } from "../support/cli.ts";
import { gradientPng } from "./png.ts";

/** A landscape JPEG, 480×240: red on the left half, blue on the right. */
function halvesJpeg(): Uint8Array {
  const width = 480;
  const height = 240;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < width / 2 ? [220, 20, 20, 255] : [20, 20, 220, 255], (y * width + x) * 4);
  return new Uint8Array(jpeg.encode({ width, height, data }, 90).data);
}

function withOrientation(dir: string, bytes: Uint8Array, orientation: number): Uint8Array {
  const path = join(dir, `o${orientation}.jpg`);
  writeFileSync(path, bytes);
  const r = spawnSync("exiftool", ["-q", "-overwrite_original", "-n", `-Orientation=${orientation}`, path]);
  expect(r.status).toBe(0);
  return new Uint8Array(readFileSync(path));
}

const pixel = (img: { width: number; data: Uint8Array }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3)];
const reddish = (p: number[]) => p[0]! > 150 && p[2]! < 100;
const bluish = (p: number[]) => p[2]! > 150 && p[0]! < 100;

describe("previews", () => {
  test("JPEG is decoded by mozjpeg (wasm, embedded by bun build), not the slower jpeg-js fallback", async () => {
    expect(await jpegDecoder()).toBe("mozjpeg");
  });

  test("a JPEG's preview is a JPEG at most 320 px on its long side, with the picture where it was", async () => {
    const original = halvesJpeg();
    const preview = await makePreview(original, "image/jpeg", "thumb");
    const decoded = jpeg.decode(preview, { useTArray: true });
    expect([decoded.width, decoded.height]).toEqual([320, 160]);
    expect(reddish(pixel(decoded, 10, 80))).toBe(true);
    expect(bluish(pixel(decoded, 310, 80))).toBe(true);
  });

  test.each([
    [6, "rotated 90° clockwise: the left half (red) is on top", [160, 320]],
    [8, "rotated 90° counter-clockwise: the left half (red) is at the bottom", [160, 320]],
    [3, "turned 180°: red on the right", [320, 160]],
  ] as const)("EXIF Orientation %i written by exiftool: the preview is upright, %s", async (orientation, _how, size) => {
    using dir = tempDir("sis-preview-");
    const bytes = withOrientation(dir, halvesJpeg(), orientation);
    expect(jpegOrientation(bytes)).toBe(orientation);
    const decoded = jpeg.decode(await makePreview(bytes, "image/jpeg", "thumb"), { useTArray: true });
    expect([decoded.width, decoded.height]).toEqual([...size]);
    const [first, second] = orientation === 6 ? [pixel(decoded, 80, 10), pixel(decoded, 80, 310)] : orientation === 8 ? [pixel(decoded, 80, 310), pixel(decoded, 80, 10)] : [pixel(decoded, 310, 80), pixel(decoded, 10, 80)];
    expect([reddish(first), bluish(second)]).toEqual([true, true]);
  });

  test("a PNG's preview keeps its proportions; a small one is not enlarged", async () => {
    const big = jpeg.decode(await makePreview(gradientPng([255, 0, 0], [0, 0, 255], 1000, 500), "image/png", "thumb"), { useTArray: true });
    expect([big.width, big.height]).toEqual([320, 160]);
    const small = jpeg.decode(await makePreview(gradientPng([255, 0, 0], [0, 0, 255], 100, 60), "image/png", "thumb"), { useTArray: true });
    expect([small.width, small.height]).toEqual([100, 60]);
  });

  test("a HEIC made by heif-enc gets a JPEG preview (browsers do not decode HEIC)", async () => {
    using dir = tempDir("sis-preview-");
    writeFileSync(join(dir, "tall.png"), gradientPng([250, 200, 0], [0, 120, 40], 300, 600));
    const r = spawnSync("heif-enc", ["-q", "60", "-o", join(dir, "tall.heic"), join(dir, "tall.png")]);
    expect(r.status).toBe(0);
    const heic = new Uint8Array(readFileSync(join(dir, "tall.heic")));
    expect(new TextDecoder().decode(heic.subarray(4, 12))).toBe("ftypheic");
    const decoded = jpeg.decode(await makePreview(heic, "image/heic", "thumb"), { useTArray: true });
    expect([decoded.width, decoded.height]).toEqual([160, 320]);
    const top = pixel(decoded, 5, 5);
    expect(top[0]! > 180 && top[2]! < 90).toBe(true); // yellow-ish, as the PNG's top left
  });

  test("a damaged JPEG or PNG is a PreviewError (a placeholder), not a crash", async () => {
    await expect(makePreview(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0]), "image/jpeg", "thumb")).rejects.toThrow();
    await expect(makePreview(gradientPng([0, 0, 0], [1, 1, 1]).subarray(0, 60), "image/png", "thumb")).rejects.toThrow();
  });
});

describe("the watch's liveness (watch-live.json)", () => {
  test("running while a heartbeat names a living process and is fresh; not after stop(), nor for a dead pid, nor when stale", async () => {
    using dir = tempDir("sis-live-");
    const home = new Home(dir);
    expect((await readWatchLiveness(home)).running).toBe(false);
    const beat = new WatchHeartbeat(home, "/srv/pictures");
    await beat.start();
    beat.imageSaved(new Date("2026-01-02T03:04:05Z"));
    await beat.stop().then(() => beat.start());
    const live = await readWatchLiveness(home);
    expect(live).toMatchObject({ running: true, outDir: "/srv/pictures" });
    expect((await readWatchLiveness(home, Date.now() + STALE_MS + 1000)).running).toBe(false);
    await beat.stop();
    expect((await readWatchLiveness(home)).running).toBe(false);

    const dead = Bun.spawnSync(["true"]).pid;
    writeFileSync(home.path("watchLive"), JSON.stringify({ pid: dead, outDir: "/x", startedAt: new Date().toISOString(), beatAt: new Date().toISOString(), lastImageAt: null }));
    expect((await readWatchLiveness(home)).running).toBe(false);
    writeFileSync(home.path("watchLive"), "{ damaged");
    expect((await readWatchLiveness(home)).running).toBe(false);
  });
});

describe("watch position per output folder", () => {
  test("each folder has its own position; a new folder starts from zero", async () => {
    using dir = tempDir("sis-home-");
    const home = new Home(dir);
    await saveWatchState(home, { server: "s:1", lastSeq: 7, outDir: "/a" });
    expect(await loadWatchState(home, "s:1", "/a")).toEqual({ server: "s:1", lastSeq: 7, outDir: "/a" });
    expect(await loadWatchState(home, "s:1", "/b")).toEqual({ server: "s:1", lastSeq: 0, outDir: "/b" });
    expect(await loadWatchState(home, "s:1")).toEqual({ server: "s:1", lastSeq: 0 });
  });
});
