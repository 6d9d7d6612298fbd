/** The HTTP side (Hono): CA certificate, CRL, health and metrics. Web-standard, tested with app.request. */
import { Hono } from "hono";

export interface HttpDeps {
  caPem: string;
  /** The current CRL, PEM with the label OpenSSL expects ("X509 CRL"). */
  crlPem(): Promise<string>;
  health(): { ok: boolean; [key: string]: unknown };
  metrics(): string;
}

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/ca.pem", (c) => c.body(deps.caPem, 200, { "content-type": "application/x-pem-file", "cache-control": "public, max-age=3600" }));
  app.get("/crl.pem", async (c) => c.body(await deps.crlPem(), 200, { "content-type": "application/x-pem-file", "cache-control": "no-cache" }));
  app.get("/healthz", (c) => {
    const health = deps.health();
    return c.json(health, health.ok ? 200 : 503);
  });
  app.get("/metrics", (c) => c.body(deps.metrics(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  app.notFound((c) => c.json({ error: "not found", paths: ["/ca.pem", "/crl.pem", "/healthz", "/metrics"] }, 404));
  app.onError((_error, c) => c.json({ error: "internal error" }, 500));
  return app;
}
