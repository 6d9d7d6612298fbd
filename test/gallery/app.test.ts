/** createGalleryApp() through app.request: honest verification marks, confinement to DIR, security headers, live events. */
// First, before anything loads @peculiar/x509: under bun test, src/pki/setup.ts alone loses that race now and then.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Home } from "../../src/client/home.ts";
import { WatchHeartbeat } from "../../src/client/watch-live.ts";
import { CONTENT_SECURITY_POLICY, createGalleryApp, type GalleryDeps } from "../../src/gallery/app.ts";
import { newGalleryToken } from "../../src/gallery/token.ts";
import type { GalleryImage } from "../../src/gallery/scan.ts";
import { fromPem } from "../../src/pki/index.ts";
import { startGalleryFixture, type GalleryFixture } from "./fixture.ts";

let fx: GalleryFixture;
let app: ReturnType<typeof authedGallery>;

/** This run's token (GA1): every request below carries it as a bearer token, except where a test says otherwise. */
const TOKEN = newGalleryToken();

function authedGallery(deps: Omit<GalleryDeps, "token">) {
  const gallery = createGalleryApp({ ...deps, token: TOKEN });
  return {
    request: (path: string, init: RequestInit = {}) => gallery.request(path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } }),
  };
}

beforeAll(async () => {
  fx = await startGalleryFixture();
  app = authedGallery({ dir: fx.dir, caDer: fx.caDer });
}, 60_000); // a real server and two registrations (argon2id) take a few seconds
afterAll(async () => {
  await fx?.[Symbol.asyncDispose]();
});

async function listed(): Promise<GalleryImage[]> {
  const res = await app.request("/api/images");
  expect(res.status).toBe(200);
  return ((await res.json()) as { images: GalleryImage[] }).images;
}

const find = (images: GalleryImage[], name: string) => images.find((i) => i.owner === "alice" && i.name === name);

test("GET /api/images lists saved images newest first, each verified with its signer's certificate", async () => {
  const older = await fx.share("harbour.png");
  const newer = await fx.share("meadow.png");
  const now = Date.now() / 1000;
  utimesSync(older.path, now - 120, now - 120);
  utimesSync(newer.path, now - 60, now - 60);

  const images = await listed();
  const names = images.map((i) => i.name);
  expect(names.indexOf("meadow.png")).toBeLessThan(names.indexOf("harbour.png"));
  const meadow = find(images, "meadow.png")!;
  expect(meadow).toMatchObject({ owner: "alice", verified: true, reason: null, contentType: "image/png", url: "/images/alice/meadow.png" });
  expect(meadow.savedAt).toBe(new Date((now - 60) * 1000).toISOString());
  expect(meadow.cert!.subject).toContain("CN=alice");
  expect(meadow.cert!.serial).toBe(newer.signerSerial);
  expect(meadow.cert!.issuer.length).toBeGreaterThan(0);
  expect(Date.parse(meadow.cert!.notBefore)).toBeLessThan(Date.parse(meadow.cert!.notAfter));
  expect(Number.isNaN(Date.parse(meadow.signingTime!))).toBe(false);
});

test("an image served from DIR has its exact bytes, its sniffed type, nosniff and the strict CSP", async () => {
  const saved = await fx.share("served.png");
  const res = await app.request("/images/alice/served.png");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/png");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
  expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(saved.path))).toBe(true);
  const head = await app.request("/images/alice/served.png", { method: "HEAD" });
  expect([head.status, head.headers.get("content-type"), head.headers.get("content-length")]).toEqual([200, "image/png", String(readFileSync(saved.path).length)]);
});

test("an image whose bytes were altered after saving is listed as NOT verified with the reason, and is no longer served", async () => {
  const saved = await fx.share("altered.png");
  expect(find(await listed(), "altered.png")!.verified).toBe(true);
  const bytes = readFileSync(saved.path);
  bytes[bytes.length - 20]! ^= 0xff; // same size: only the contents tell
  writeFileSync(saved.path, bytes);

  const altered = find(await listed(), "altered.png")!;
  expect(altered.verified).toBe(false);
  expect(altered.reason).toContain("does not match the signed digest");
  expect(altered.url).toBeNull();
  expect((await app.request("/images/alice/altered.png")).status).toBe(404);
});

test("a signer certificate that does not chain to the pinned CA is NOT verified", async () => {
  await fx.share("other-ca.png");
  const foreign = authedGallery({ dir: fx.dir, caDer: fromPem(readFileSync(join(import.meta.dir, "../../certs/foreign-ca.pem"), "utf8"), "CERTIFICATE") });
  const images = ((await (await foreign.request("/api/images")).json()) as { images: GalleryImage[] }).images;
  const image = find(images, "other-ca.png")!;
  expect(image.verified).toBe(false);
  expect(image.reason).toContain("the signer's certificate is not acceptable");
  expect(image.cert!.subject).toContain("CN=alice");
});

test("path tricks, symlinks, files without a signature and partial files get 404 and never leak a file", async () => {
  const secret = "TOP-SECRET-do-not-serve";
  writeFileSync(join(fx.outside, "secret.txt"), secret);
  // A genuine image moved outside DIR and linked back in, beside its genuine signature.
  const linked = await fx.share("linked.png");
  renameSync(linked.path, join(fx.outside, "linked.png"));
  symlinkSync(join(fx.outside, "linked.png"), linked.path);
  // A genuine image without its signature, and a partial file with one.
  const unsigned = await fx.share("unsigned.png");
  unlinkSync(`${unsigned.path}.p7s`);
  const partial = join(fx.dir, "alice", ".sis-partial-0123456789abcdef");
  copyFileSync(unsigned.path, partial);
  copyFileSync(`${linked.path}.p7s`, `${partial}.p7s`);
  const genuine = await fx.share("genuine.png");

  const requests = [
    "/images/alice/../../outside/secret.txt",
    "/images/%2e%2e/outside/secret.txt",
    "/images/alice/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
    "/images/alice/..%2F..%2Foutside%2Fsecret.txt",
    "/images/alice/..%5c..%5coutside%5csecret.txt",
    `/images/alice/${encodeURIComponent(join(fx.outside, "secret.txt"))}`,
    `/images/${encodeURIComponent(fx.outside)}/secret.txt`,
    `/images/${fx.outside}/secret.txt`,
    "/images//etc/passwd",
    "/images/alice/genuine.png%00",
    "/images/alice/genuine.png.p7s",
    "/images/Alice/genuine.png",
    "/images/alice/linked.png",
    "/images/alice/unsigned.png",
    "/images/alice/.sis-partial-0123456789abcdef",
    "/outside/secret.txt",
  ];
  for (const path of requests) {
    const res = await app.request(path);
    const body = Buffer.from(await res.arrayBuffer());
    expect({ path, status: res.status }).toEqual({ path, status: 404 });
    expect(body.includes(secret) || body.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toBe(false);
  }
  const names = (await listed()).map((i) => i.name);
  expect(names).toContain("genuine.png");
  for (const hidden of ["linked.png", "unsigned.png", ".sis-partial-0123456789abcdef"]) expect(names).not.toContain(hidden);

  // An owner directory that is a symlink to a real one elsewhere is neither listed nor served.
  const decoy = join(fx.outside, "decoy");
  mkdirSync(decoy);
  symlinkSync(join(fx.dir, "alice"), join(decoy, "alice"));
  const decoyApp = authedGallery({ dir: decoy, caDer: fx.caDer });
  expect((await decoyApp.request("/images/alice/genuine.png")).status).toBe(404);
  expect(((await (await decoyApp.request("/api/images")).json()) as { images: unknown[] }).images).toEqual([]);
});

test("the page, its script and the API carry the strict CSP and nosniff, and the page has no inline script or style", async () => {
  for (const path of ["/", "/app.js", "/app.css", "/api/images"]) {
    const res = await app.request(path);
    expect({ path, status: res.status, csp: res.headers.get("content-security-policy"), nosniff: res.headers.get("x-content-type-options") }).toEqual({
      path,
      status: 200,
      csp: CONTENT_SECURITY_POLICY,
      nosniff: "nosniff",
    });
  }
  expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
  expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe-inline");
  const html = await (await app.request("/")).text();
  expect(html).toContain('<script src="/app.js" defer></script>');
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  expect((await app.request("/app.js")).headers.get("content-type")).toStartWith("text/javascript");
});

test("a request naming a host other than 127.0.0.1 or localhost is refused (DNS rebinding)", async () => {
  expect((await app.request("http://attacker.example:8234/api/images")).status).toBe(403);
  expect((await app.request("http://127.0.0.1:8234/api/images")).status).toBe(200);
});

test("GET /api/events announces a change when sis saves a new image into DIR", async () => {
  const res = await app.request("/api/events");
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    while (!seen.includes("event: ready")) seen += (await reader.read()).value ?? "";
    await fx.share("live.png");
    while (!seen.includes("event: change")) seen += (await reader.read()).value ?? "";
    expect(find(await listed(), "live.png")?.verified).toBe(true);
  } finally {
    await reader.cancel();
  }
});

test("a gallery over a directory that does not exist yet lists no images", async () => {
  const empty = authedGallery({ dir: join(fx.outside, "not-there"), caDer: fx.caDer });
  expect(await (await empty.request("/api/images")).json()).toEqual({ dir: join(fx.outside, "not-there"), images: [] });
});

test("the live mark (GA3) is about this DIR: a watch saving elsewhere is not live here, and the page is told where it saves", async () => {
  const homeDir = join(fx.root, "live-home");
  mkdirSync(homeDir, { recursive: true });
  const gallery = authedGallery({ dir: fx.dir, caDer: fx.caDer, homeDir });
  const live = async () => (await (await gallery.request("/api/live")).json()) as { running: boolean; lastImageAt: string | null; elsewhere: string | null };
  expect(await live()).toEqual({ running: false, lastImageAt: null, elsewhere: null });
  const other = join(fx.outside, "other-pictures");
  const away = new WatchHeartbeat(new Home(homeDir), other);
  away.imageSaved(new Date("2026-03-04T05:06:07Z")); // start() writes after this write: no wait needed below
  await away.start();
  try {
    expect(await live()).toEqual({ running: false, lastImageAt: null, elsewhere: other });
  } finally {
    await away.stop();
  }
  const here = new WatchHeartbeat(new Home(homeDir), fx.dir);
  here.imageSaved(new Date("2026-03-04T05:06:08Z"));
  await here.start();
  try {
    expect(await live()).toEqual({ running: true, lastImageAt: "2026-03-04T05:06:08.000Z", elsewhere: null });
  } finally {
    await here.stop();
  }
  expect((await live()).running).toBe(false);
});

describe("the per-run token (GA1)", () => {
  const raw = () => createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token: TOKEN });
  const PATHS = ["/", "/app.js", "/app.css", "/favicon.svg", "/api/images", "/api/events", "/images/alice/guarded.png"];

  test("a request without the token is refused with 403 on every path, and nothing of the images leaks", async () => {
    await fx.share("guarded.png");
    const gallery = raw();
    for (const path of PATHS) {
      const res = await gallery.request(`http://127.0.0.1:8234${path}`);
      const body = await res.text();
      expect({ path, status: res.status, cookie: res.headers.get("set-cookie") }).toEqual({ path, status: 403, cookie: null });
      expect(body).toBe("forbidden: open the address 'sis gallery' printed; it carries this run's token");
    }
    // The same request with the token is served: the token alone made the difference.
    const served = await app.request("http://127.0.0.1:8234/images/alice/guarded.png");
    expect(served.status).toBe(200);
    expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  test("a wrong token is refused, in the query, the cookie or the Authorization header", async () => {
    const gallery = raw();
    const wrong = [newGalleryToken(), TOKEN.slice(0, -1), TOKEN.slice(0, -1) + (TOKEN.endsWith("A") ? "B" : "A"), `${TOKEN}x`, "", TOKEN.toLowerCase() === TOKEN ? TOKEN.toUpperCase() : TOKEN.toLowerCase()];
    for (const token of wrong) {
      const asked = [
        await gallery.request(`http://127.0.0.1:8234/api/images?token=${encodeURIComponent(token)}`),
        await gallery.request("http://127.0.0.1:8234/api/images", { headers: { cookie: `sis-gallery-8234=${token}` } }),
        await gallery.request("http://127.0.0.1:8234/api/images", { headers: { authorization: `Bearer ${token}` } }),
        // Another port's cookie is another gallery's.
        await gallery.request("http://127.0.0.1:8234/api/images", { headers: { cookie: `sis-gallery-8235=${TOKEN}` } }),
      ];
      expect({ token, statuses: asked.map((r) => r.status) }).toEqual({ token, statuses: [403, 403, 403, 403] });
    }
  });

  test("the printed URL sets an HttpOnly, SameSite=Strict cookie and redirects to the bare page; the cookie then opens everything", async () => {
    const gallery = raw();
    const first = await gallery.request(`http://127.0.0.1:8234/?token=${TOKEN}`);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    expect(first.headers.get("set-cookie")).toBe(`sis-gallery-8234=${TOKEN}; Path=/; HttpOnly; SameSite=Strict`);
    const cookie = `sis-gallery-8234=${TOKEN}`;
    for (const path of PATHS.filter((p) => p !== "/api/events")) {
      const res = await gallery.request(`http://127.0.0.1:8234${path}`, { headers: { cookie } });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(await res.text()).not.toContain(TOKEN);
    }
    // The Host check still comes first: the token does not make another host name acceptable.
    expect((await gallery.request(`http://attacker.example:8234/api/images?token=${TOKEN}`)).status).toBe(403);
  });

  test("a gallery cannot be made with a short or empty token", () => {
    expect(() => createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token: "" })).toThrow(/at least 43 characters/);
    expect(() => createGalleryApp({ dir: fx.dir, caDer: fx.caDer, token: "x".repeat(42) })).toThrow(/at least 43 characters/);
  });
});
