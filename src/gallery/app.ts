/** The gallery (Hono): the page, the re-verified image list, live change events, the watch's liveness, previews, and the verified images' bytes. */
import type { FileHandle } from "node:fs/promises";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { resolve } from "node:path";
import { Home } from "../client/home.ts";
import { readWatchLiveness } from "../client/watch-live.ts";
import { DirWatcher } from "./dir-watcher.ts";
import { FAVICON_SVG, PAGE_HTML, PAGE_SCRIPT, PAGE_STYLE } from "./page.ts";
import { GalleryScanner, type OpenedImage } from "./scan.ts";
import { PreviewCache, type PreviewSize } from "./thumbnails.ts";
import { MIN_TOKEN_LENGTH, sameToken, tokenCookieName } from "./token.ts";

export interface GalleryDeps {
  dir: string;
  /** The pinned CA certificate (DER) that every signer must chain to. */
  caDer: Uint8Array;
  /** The per-run secret every request must carry (GA1): ?token=, the cookie it sets, or Authorization: Bearer. */
  token: string;
  /** The client home: previews are cached in HOME/thumbnails, and the watch's heartbeat is read there. Without it, previews stay in memory and no watch is seen. */
  homeDir?: string;
}

/** Shown where an image has no preview (a format or a size it cannot be made for); the image itself is still a click away. */
const NO_PREVIEW_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 120"><rect width="160" height="120" fill="#eef0f3"/><text x="80" y="66" font-family="sans-serif" font-size="13" fill="#667085" text-anchor="middle">no preview</text></svg>`;

/** Nothing but this origin's own files: no inline script or style, no framing, no plugins. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The server listens on 127.0.0.1 only, but a web page elsewhere could point its own
 * host name at 127.0.0.1 (DNS rebinding) and read the answers as same-origin; a Host
 * header that is not a loopback name is refused.
 */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Bun closes a connection that is quiet for 10 s; a comment line keeps the event stream open. */
const HEARTBEAT_MS = 5_000;

/**
 * The gallery server's idle timeout, in seconds (Bun's maximum). Previews are made one at a
 * time (thumbnails.ts), so on the first visit of a large album the last grid preview waits
 * for every one before it: with Bun's default of 10 s it was cut off and the browser showed
 * a broken image (seen in CI: 8 previews on a busy machine).
 */
export const GALLERY_IDLE_TIMEOUT_S = 255;
const READ_CHUNK = 256 * 1024;

function fileStream(handle: FileHandle, size: number): ReadableStream<Uint8Array> {
  let position = 0;
  return new ReadableStream({
    async pull(controller) {
      try {
        const want = Math.min(READ_CHUNK, size - position);
        const { bytesRead, buffer } = want > 0 ? await handle.read(new Uint8Array(want), 0, want, position) : { bytesRead: 0, buffer: null };
        if (bytesRead === 0 || !buffer) {
          controller.close();
          await handle.close();
          return;
        }
        position += bytesRead;
        controller.enqueue(buffer.subarray(0, bytesRead));
      } catch (error) {
        await handle.close().catch(() => {});
        controller.error(error);
      }
    },
    async cancel() {
      await handle.close().catch(() => {});
    },
  });
}

export function createGalleryApp(deps: GalleryDeps): Hono {
  const scanner = new GalleryScanner(deps.dir, deps.caDer);
  const watcher = new DirWatcher(deps.dir);
  const home = deps.homeDir === undefined ? null : new Home(deps.homeDir);
  const previews = new PreviewCache(home ? home.path("thumbnails") : null);
  const streamOpened = (opened: OpenedImage, cache: string) =>
    new Response(fileStream(opened.handle, opened.stat.size), { headers: { "Content-Type": opened.verdict.contentType ?? "", "Content-Length": String(opened.stat.size), "Cache-Control": cache } });
  const app = new Hono();

  if (deps.token.length < MIN_TOKEN_LENGTH) throw new Error(`the gallery token must have at least ${MIN_TOKEN_LENGTH} characters`);
  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    if (!LOOPBACK_HOSTS.has(url.hostname)) return c.text("forbidden: the gallery answers only to 127.0.0.1 and localhost", 403);
    // GA1: other users of this machine reach 127.0.0.1 too; only who has the printed URL gets in.
    const cookie = tokenCookieName(url);
    const inQuery = sameToken(url.searchParams.get("token"), deps.token);
    const bearer = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
    if (!inQuery && !sameToken(getCookie(c, cookie), deps.token) && !sameToken(bearer, deps.token)) {
      return c.text("forbidden: open the address 'sis gallery' printed; it carries this run's token", 403);
    }
    if (inQuery) {
      // The page's own requests (script, images, events) then carry the cookie.
      setCookie(c, cookie, deps.token, { path: "/", httpOnly: true, sameSite: "Strict" });
    }
    if (inQuery && url.pathname === "/" && c.req.method === "GET") {
      // The token leaves the address bar (and the history) once it is in the cookie.
      const res = c.redirect("/", 303);
      res.headers.set("Cache-Control", "no-store");
      return res;
    }
    await next();
    c.res.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("Referrer-Policy", "no-referrer");
    c.res.headers.set("X-Frame-Options", "DENY");
    c.res.headers.set("Cross-Origin-Resource-Policy", "same-origin");
  });

  app.get("/", (c) => c.html(PAGE_HTML, 200, { "Cache-Control": "no-cache" }));
  app.get("/app.js", (c) => c.body(PAGE_SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" }));
  app.get("/app.css", (c) => c.body(PAGE_STYLE, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache" }));
  app.get("/favicon.svg", (c) => c.body(FAVICON_SVG, 200, { "Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400" }));

  app.get("/api/images", async (c) => {
    const images = await scanner.list();
    // The grid previews not made yet are made in advance, after those the page asks for.
    previews.warm(images, (owner, name) => scanner.open(owner, name));
    return c.json({ dir: deps.dir, images }, 200, { "Cache-Control": "no-store" });
  });

  // GA3, the "live" mark: a watch runs when its heartbeat names a living process, is fresh, and saves into this DIR.
  app.get("/api/live", async (c) => {
    const beat = home ? await readWatchLiveness(home) : null;
    const here = beat?.outDir != null && resolve(beat.outDir) === resolve(deps.dir);
    return c.json({ running: Boolean(beat?.running && here), lastImageAt: here ? (beat?.lastImageAt ?? null) : null, elsewhere: beat?.running && !here ? beat.outDir : null }, 200, { "Cache-Control": "no-store" });
  });

  // Previews: made from the verified bytes only; addressed with ?v=SHA-256, so the browser may keep them.
  app.get("/previews/:owner/:name", async (c) => {
    const size: PreviewSize = c.req.query("size") === "large" ? "large" : "thumb";
    const opened = await scanner.open(c.req.param("owner"), c.req.param("name"));
    if (!opened) return c.notFound();
    let handed = false;
    try {
      if (!opened.verdict.verified) return c.notFound();
      const preview = await previews.preview(opened, size, c.req.raw.signal);
      if (preview.kind === "jpeg") return new Response(preview.bytes as Uint8Array<ArrayBuffer>, { headers: { "Content-Type": "image/jpeg", "Content-Length": String(preview.bytes.length), "Cache-Control": "private, max-age=31536000, immutable" } });
      if (preview.kind === "original") {
        handed = true;
        return streamOpened(opened, "no-cache");
      }
      return c.body(NO_PREVIEW_SVG, 200, { "Content-Type": "image/svg+xml", "Cache-Control": "no-store", "X-Sis-No-Preview": preview.reason.replace(/[^\x20-\x7e]/g, "?") });
    } finally {
      if (!handed) await opened.handle.close();
    }
  });

  app.get("/api/events", (c) =>
    streamSSE(c, async (stream) => {
      const closed = new Promise<void>((done) => stream.onAbort(done));
      c.req.raw.signal.addEventListener("abort", () => stream.abort());
      const unsubscribe = watcher.subscribe(() => void stream.writeSSE({ event: "change", data: "images" }));
      const heartbeat = setInterval(() => void stream.write(": keep-alive\n\n"), HEARTBEAT_MS);
      try {
        await stream.writeSSE({ event: "ready", data: "watching" });
        await closed;
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
      }
    }),
  );

  // Owner and name are validated, the path is confined to DIR, symlinks are not followed,
  // and only an image whose signature verifies right now is served.
  app.get("/images/:owner/:name", async (c) => {
    const opened = await scanner.open(c.req.param("owner"), c.req.param("name"));
    if (!opened) return c.notFound();
    const { verdict, handle, stat } = opened;
    const headers = { "Content-Type": verdict.contentType ?? "", "Content-Length": String(stat.size), "Cache-Control": "no-cache" };
    if (!verdict.verified || !verdict.contentType || c.req.method === "HEAD") {
      await handle.close();
      return verdict.verified ? c.body(null, 200, headers) : c.notFound();
    }
    return c.body(fileStream(handle, stat.size), 200, headers);
  });

  app.notFound((c) => c.text("not found", 404));
  app.onError((_error, c) => c.text("internal error", 500));
  return app;
}
