/** PreviewCache's queue: a grid preview made in advance and a page's request for the same preview never wait on each other. */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { PreviewCache } from "../../src/gallery/thumbnails.ts";
import type { OpenedImage } from "../../src/gallery/scan.ts";
import { tempDir } from "../support/cli.ts";
import { gradientPng } from "./png.ts";

async function opened(path: string, sha256: string): Promise<OpenedImage> {
  const handle = await open(path, "r");
  return { handle, stat: await handle.stat(), verdict: { verified: true, reason: null, contentType: "image/png", sha256, signingTime: null, cert: null } };
}

test("a page asking for a preview while the same one is being prepared in advance gets it (the advance job does not wait behind the page's)", async () => {
  using dir = tempDir("sis-preview-cache-");
  const path = join(dir, "sunrise.png");
  const bytes = gradientPng([255, 120, 0], [40, 0, 160], 640, 400);
  writeFileSync(path, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const cache = new PreviewCache(null);

  // The advance job holds the queue's turn and is opening the file (verifying it) when the page's request comes.
  let reached!: () => void;
  const opening = new Promise<void>((r) => (reached = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const handles: OpenedImage[] = [];
  cache.warm([{ owner: "alice", name: "sunrise.png", verified: true, sha256, contentType: "image/png" }], async () => {
    reached();
    await released;
    const o = await opened(path, sha256);
    handles.push(o);
    return o;
  });
  await opening;
  const page = await opened(path, sha256);
  const asked = cache.preview(page, "thumb", new AbortController().signal);
  release();
  // Before the fix the advance job waited for the page's job, queued behind it: neither ever ended (and their open
  // files were closed by the garbage collector, an uncaught error under bun test).
  const preview = await asked;
  await page.handle.close();
  expect(preview.kind).toBe("jpeg");
  const decoded = jpeg.decode((preview as { bytes: Uint8Array }).bytes, { useTArray: true });
  expect([decoded.width, decoded.height]).toEqual([320, 200]);
  // The advance job has ended too, and closed the file it opened.
  for (let i = 0; i < 200 && handles[0]?.handle.fd !== -1; i++) await Bun.sleep(10);
  expect(handles.map((h) => h.handle.fd)).toEqual([-1]);
}, 30_000);
