/** The compiled `sis gallery`: the address it prints carries a fresh per-run token (GA1), and without it every request gets 403. */
import { expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { SIS, tempDir } from "../support/cli.ts";

/** Any CA will do: the gallery needs a pinned CA to judge images, and there are none here. */
const CA = resolve(import.meta.dir, "../../certs/foreign-ca.pem");

async function startGallery(home: string) {
  const proc = Bun.spawn([SIS, "gallery", "--port", "0", "--home", home], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sis gallery exited (${await proc.exited}): ${out}${await new Response(proc.stderr).text()}`);
    out += decoder.decode(value);
  }
  reader.releaseLock();
  const m = /^gallery: (http:\/\/127\.0\.0\.1:(\d+)\/)\?token=([A-Za-z0-9_-]+) \(images from .+\)\n$/.exec(out);
  if (!m) {
    proc.kill();
    throw new Error(`unexpected first line: ${JSON.stringify(out)}`);
  }
  return {
    proc,
    base: m[1]!,
    port: Number(m[2]),
    token: m[3]!,
    async stop() {
      proc.kill("SIGTERM");
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      return { stderr, code };
    },
  };
}

test("sis gallery prints a 256-bit token in its URL, new each run; without it 403, with it the page and its API", async () => {
  using root = tempDir("sis-gallery-cli-");
  const home = join(root, "home");
  mkdirSync(home);
  copyFileSync(CA, join(home, "ca.pem"));
  const first = await startGallery(home);
  let stopped = false;
  try {
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
    for (const path of ["", "api/images", "app.js", "?token=wrong"]) {
      const res = await fetch(first.base + path, { redirect: "manual" });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      await res.body?.cancel();
    }
    const entry = await fetch(`${first.base}?token=${first.token}`, { redirect: "manual" });
    expect(entry.status).toBe(303);
    const cookie = entry.headers.get("set-cookie")!.split(";")[0]!;
    expect(cookie).toBe(`sis-gallery-${first.port}=${first.token}`);
    const page = await fetch(first.base, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>sis gallery</title>");
    const list = await fetch(`${first.base}api/images`, { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { images: unknown[] }).images).toEqual([]);

    const second = await startGallery(home);
    try {
      expect(second.token).not.toBe(first.token);
      // The first run's token opens nothing in the second.
      const foreign = await fetch(`${second.base}api/images`, { headers: { cookie: `sis-gallery-${second.port}=${first.token}` } });
      expect(foreign.status).toBe(403);
      await foreign.body?.cancel();
    } finally {
      const end = await second.stop();
      expect(end.stderr).not.toContain(second.token);
    }
    const end = await first.stop();
    stopped = true;
    expect(end).toEqual({ stderr: "", code: 0 });
  } finally {
    if (!stopped) await first.stop();
  }
}, 60_000);
