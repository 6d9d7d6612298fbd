/** createHttpApp(deps) with a real CA, through app.request (no socket); OpenSSL judges the PEM it serves. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHttpApp, type HttpDeps } from "../../src/http/app.ts";
import { CertificateAuthority, createCa, createKeyAndCsr, toPem, type IssuedCert } from "../../src/pki/index.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { openssl } from "../support/auth-kit.ts";

// RSA key generation and OpenSSL runs on a shared two-core machine: allow for load.
setDefaultTimeout(30_000);

let dir: string;
let ca: CertificateAuthority;
let caPem: string;
let revoked: IssuedCert;
let valid: IssuedCert;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function crlPemFor(revokedCerts: IssuedCert[]): Promise<string> {
  const der = await ca.createCrl({ revoked: revokedCerts.map((c) => ({ serial: c.serial, revokedAt: Date.now() })), crlNumber: 1 });
  return toPem(der, "X509 CRL");
}

/** The serials `openssl crl -text` lists, normalised like sis serials (lower-case hex, no leading zeros). */
function revokedSerials(text: string): string[] {
  return [...text.matchAll(/Serial Number: ([0-9A-F:]+)/g)].map((m) => m[1]!.replace(/:/g, "").toLowerCase().replace(/^(00)+/, ""));
}

function app(overrides: Partial<HttpDeps> = {}) {
  return createHttpApp({
    caPem,
    crlPem: () => crlPemFor([revoked]),
    health: () => ({ ok: true, connections: 3, version: "test" }),
    metrics: () => "sis_connected_clients 3\n",
    ...overrides,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sis-http-"));
  const files = await createCa({ commonName: "sis CA http-test" });
  caPem = files.certPem;
  ca = await CertificateAuthority.load(files);
  const issue = async (username: string) => ca.issueUserCert({ csrDer: (await createKeyAndCsr({ username, bits: 2048 })).csrDer, username });
  [revoked, valid] = await Promise.all([issue("mallory"), issue("alice")]);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("createHttpApp() GET /ca.pem", () => {
  test("serves the CA certificate exactly, as a PEM file", async () => {
    const res = await app().request("/ca.pem");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-pem-file");
    expect(await res.text()).toBe(caPem);
  });

  test("OpenSSL reads it and prints the fingerprint sis announces", async () => {
    const body = await (await app().request("/ca.pem")).text();
    const r = await openssl(["x509", "-noout", "-fingerprint", "-sha256", "-subject"], { stdin: body });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Fingerprint=${ca.fingerprint}`);
    expect(r.stdout).toContain("sis CA http-test");
  });
});

describe("createHttpApp() GET /crl.pem", () => {
  test("serves the CRL with the label OpenSSL expects (X509 CRL) and no caching", async () => {
    const res = await app().request("/crl.pem");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-pem-file");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const body = await res.text();
    expect(body.startsWith("-----BEGIN X509 CRL-----\n")).toBe(true);
    expect(body.trimEnd().endsWith("-----END X509 CRL-----")).toBe(true);
  });

  test("openssl crl parses it, checks its signature with the CA and lists the revoked serial", async () => {
    const crlPath = write("crl-parse.pem", await (await app().request("/crl.pem")).text());
    const caPath = write("ca-parse.pem", caPem);
    const r = await openssl(["crl", "-in", crlPath, "-CAfile", caPath, "-noout", "-text"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("verify OK");
    expect(revokedSerials(r.stdout)).toEqual([revoked.serial]);
  });

  test("openssl verify -crl_check with it rejects the revoked certificate and accepts a valid one", async () => {
    const crlPath = write("crl-verify.pem", await (await app().request("/crl.pem")).text());
    const caPath = write("ca-verify.pem", caPem);
    const bad = await openssl(["verify", "-crl_check", "-CRLfile", crlPath, "-CAfile", caPath, write("revoked.pem", revoked.pem)]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain("certificate revoked");
    const good = await openssl(["verify", "-crl_check", "-CRLfile", crlPath, "-CAfile", caPath, write("valid.pem", valid.pem)]);
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(": OK");
  });

  test("asks for the current CRL on every request: a revocation shows at once", async () => {
    let current: IssuedCert[] = [];
    const a = app({ crlPem: () => crlPemFor(current) });
    const caPath = write("ca-fresh.pem", caPem);
    const check = async () => {
      const crlPath = write("crl-fresh.pem", await (await a.request("/crl.pem")).text());
      return openssl(["verify", "-crl_check", "-CRLfile", crlPath, "-CAfile", caPath, write("valid-fresh.pem", valid.pem)]);
    };
    expect((await check()).code).toBe(0);
    current = [valid];
    const after = await check();
    expect(after.code).not.toBe(0);
    expect(after.stdout + after.stderr).toContain("certificate revoked");
  });

  test("a failing CRL source is a 500 that says nothing about the cause", async () => {
    const res = await app({ crlPem: () => Promise.reject(new Error("/var/lib/sis/ca.key: permission denied")) }).request("/crl.pem");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "internal error" });
    expect(text).not.toContain("ca.key");
  });
});

describe("createHttpApp() GET /healthz and /metrics", () => {
  test("/healthz answers 200 with the health object when healthy", async () => {
    const res = await app().request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, connections: 3, version: "test" });
  });

  test("/healthz answers 503 when not healthy", async () => {
    const res = await app({ health: () => ({ ok: false, reason: "store closed" }) }).request("/healthz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, reason: "store closed" });
  });

  test("/metrics serves the Prometheus text the server's counters render", async () => {
    const metrics = new Metrics();
    metrics.connections = 2;
    metrics.refuse("AUTH_FAILED");
    const res = await app({ metrics: () => metrics.render() }).request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain("sis_connected_clients 2\n");
    expect(text).toContain('sis_refusals_total{code="AUTH_FAILED"} 1\n');
  });
});

describe("createHttpApp() other requests", () => {
  test("an unknown path is a JSON 404 listing the paths there are", async () => {
    const res = await app().request("/ca.key");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found", paths: ["/ca.pem", "/crl.pem", "/healthz", "/metrics"] });
  });

  test("a path that tries to climb out is a 404, not a file", async () => {
    const res = await app().request("/../../ca.key");
    expect(res.status).toBe(404);
  });

  test("POST to /ca.pem does not serve or change anything", async () => {
    const res = await app().request("/ca.pem", { method: "POST", body: "-----BEGIN CERTIFICATE-----" });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("BEGIN CERTIFICATE");
  });
});
