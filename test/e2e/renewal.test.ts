/** Renewal end to end (RN1–RN9): the compiled binary, the server and clients moved in time with faketime. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import tls from "node:tls";
import { join, resolve } from "node:path";
import { dirsForFile } from "../support/sandbox.ts";
import { fakeTime, register, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";
import { expectRun, helloAs, openssl, until } from "../support/auth-kit.ts";
import { encodeMessage } from "../../src/protocol/index.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(120_000);

const DAY = 24 * 60 * 60 * 1000;
const IMAGE = resolve(import.meta.dir, "../fixtures/images/sample.png");
/** The environment of a process whose clock runs `days` ahead (libfaketime, set directly so stop() reaches the process). */
const at = (days: number) => fakeTime(`+${days}d`);

let server: ServerProcess | undefined;
const { data, homes, home } = dirsForFile("sis-e2e-renew", () => server);

async function whoami(user: string, days = 0): Promise<{ serial: string; notAfter: string }> {
  const r = await sis(["whoami", "--home", home(user), "--json"], { env: at(days) });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { serial: string; notAfter: string };
}

/** The modulus of a PEM key or certificate, as OpenSSL reads it. */
async function modulus(kind: "rsa" | "x509", path: string): Promise<string> {
  const r = await openssl([kind, "-noout", "-modulus", "-in", path]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** The same data directory and port, the server under faketime `days` ahead. */
async function restartAt(days: number): Promise<void> {
  const port = server!.port;
  await server!.stop();
  server = await startServe(data, ["--port", String(port)], { env: at(days) });
}

describe("sis renew, sis watch, expiry (RN1–RN7)", () => {
  const before: Record<string, { serial: string; notAfter: string }> = {};

  test("setup: four users registered today with one-year certificates", async () => {
    server = await startServe(data);
    for (const user of ["alice", "bob", "carol", "dave"]) {
      expectRun(await register(server, user, home(user)), { code: 0, stderr: "" });
      before[user] = await whoami(user);
    }
    // A year (the default, P28) from now.
    expect(Math.abs(Date.parse(before.alice!.notAfter) - Date.now() - 365 * DAY)).toBeLessThan(DAY);
  });

  test("RN6: no warning today; within 30 days of the end every command warns on stderr", async () => {
    expectRun(await sis(["whoami", "--home", home("alice")]), { code: 0, stderr: "" });
    const warning = /^sis: warning: your certificate expires on \d{4}-\d\d-\d\dT[\d:.]+Z \(in 2[56] days\); run 'sis renew'\n$/;
    expectRun(await sis(["whoami", "--home", home("alice")], { env: at(340) }), { code: 0, stderr: warning });
    // A command that connects warns the same way, and still works (the server's clock is today's).
    expectRun(await sis(["list", "--home", home("alice")], { env: at(340) }), { code: 0, stderr: warning });
  });

  test("RN6: sis watch at +250 days (past two thirds of 365) renews on its own; the home's certificate changes", async () => {
    await restartAt(250);
    const certPath = join(home("carol"), "cert.pem");
    const old = readFileSync(certPath, "utf8");
    await using watcher = startWatch(home("carol"), join(homes, "carol-images"), { env: at(250) });
    const line = await watcher.waitFor(/renewed the certificate: serial [0-9a-f]{32}, valid until/);
    expect(line).toContain(`(serial ${before.carol!.serial} stays valid until it expires)`);
    await until(() => readFileSync(certPath, "utf8") !== old, "carol's cert.pem to change");
    const now = await whoami("carol", 250);
    expect(now.serial).not.toBe(before.carol!.serial);
    expect(Date.parse(now.notAfter)).toBeGreaterThan(Date.parse(before.carol!.notAfter) + 200 * DAY);
    // The same key (a watch never rekeys: its open connection re-wraps keys for the old certificate's key, P24).
    expect(await modulus("x509", certPath)).toBe(await modulus("rsa", join(home("carol"), "key.pem")));
    // Once: the renewed certificate is not due again.
    await watcher.stop();
    expect(watcher.lines.filter((l) => /renewed the certificate/.test(l))).toHaveLength(1);
  });

  test("RN1–RN4: sis renew at +300 days gives a certificate that lasts past the old one, same key; it can post", async () => {
    await restartAt(300);
    const keyBefore = readFileSync(join(home("alice"), "key.pem"), "utf8");
    const r = await sis(["renew", "--home", home("alice")], { env: at(300) });
    expectRun(r, { code: 0, stdout: new RegExp(`^renewed alice's certificate at 127\\.0\\.0\\.1:\\d+\\ncertificate serial [0-9a-f]{32}, valid until .*\\nthe previous certificate \\(serial ${before.alice!.serial}\\) stays valid until it expires\\n`), stderr: "" });
    const now = await whoami("alice", 300);
    expect(now.serial).not.toBe(before.alice!.serial);
    expect(Date.parse(now.notAfter)).toBeGreaterThan(Date.parse(before.alice!.notAfter) + 250 * DAY);
    expect(readFileSync(join(home("alice"), "key.pem"), "utf8")).toBe(keyBefore);
    // No file of the renewal is left behind (RN5).
    expect(readFileSync(join(home("alice"), "profile.json"), "utf8")).toContain(now.serial);
    expect(() => readFileSync(join(home("alice"), "renewal-pending.json"))).toThrow();
    // RN4: the old certificate stays valid (not revoked) until it expires.
    const certs = await sis(["admin", "certs", "--data", data, "--json"], { env: at(300) });
    const statuses = Object.fromEntries((JSON.parse(certs.stdout) as { serial: string; status: string }[]).map((c) => [c.serial, c.status]));
    expect({ old: statuses[before.alice!.serial], renewed: statuses[now.serial] }).toEqual({ old: "valid", renewed: "valid" });
    expectRun(await sis(["post", "--home", home("alice"), "--name", "after-renew.png", IMAGE], { env: at(300) }), { code: 0, stderr: "" });
  });

  test("RN3: sis renew --rekey makes a new key; the new certificate holds it", async () => {
    const keyPath = join(home("bob"), "key.pem");
    const keyBefore = await modulus("rsa", keyPath);
    const r = await sis(["renew", "--rekey", "--home", home("bob")], { env: at(300) });
    expectRun(r, { code: 0, stdout: /^renewed bob's certificate with a new key at /, stderr: "" });
    const keyAfter = await modulus("rsa", keyPath);
    expect(keyAfter).not.toBe(keyBefore);
    expect(await modulus("x509", join(home("bob"), "cert.pem"))).toBe(keyAfter);
    expectRun(await sis(["post", "--home", home("bob"), "--name", "rekeyed.png", IMAGE], { env: at(300) }), { code: 0, stderr: "" });
  });

  test("RN7: at +400 days the poster who did not renew cannot post (exit 3, re-enrol with the password); the renewed one can", async () => {
    await restartAt(400);
    const r = await sis(["post", "--home", home("dave"), IMAGE], { env: at(400) });
    expectRun(r, {
      code: 3,
      stdout: "",
      stderr: new RegExp(`^sis: cannot post: your certificate expired on ${before.dave!.notAfter.replace(/\./g, "\\.")} and an expired certificate cannot be renewed; re-enrol with your password: sis register --server 127\\.0\\.0\\.1:\\d+ --user dave --home \\S+\\n$`),
    });
    // sis watch stops (exit 3) instead of reconnecting for ever.
    await using watcher = startWatch(home("dave"), join(homes, "dave-images"), { env: at(400) });
    expect(await watcher.proc.exited).toBe(3);
    await watcher.waitFor(/^sis: cannot watch: your certificate expired on .* re-enrol with your password/);
    const renew = await sis(["renew", "--home", home("dave")], { env: at(400) });
    expectRun(renew, { code: 3, stdout: "", stderr: /^sis: cannot renew: your certificate expired on .* re-enrol with your password/ });
    expectRun(await sis(["post", "--home", home("alice"), "--name", "at-400.png", IMAGE], { env: at(400) }), { code: 0, stderr: "" });
    // Re-enrolling with the password works in the same home (as before this change).
    expectRun(await sis(["register", "--server", server!.address, "--user", "dave", "--home", home("dave"), "--password-stdin", "--key-bits", "2048"], { stdin: "dave-password-1\n", env: at(400) }), { code: 0, stderr: "" });
    expectRun(await sis(["post", "--home", home("dave"), IMAGE], { env: at(400) }), { code: 0, stderr: "" });
  });
});

describe("the CA's end (RN9)", () => {
  test("within a year of the CA's end (ten years) the server warns in its log at start; not before", async () => {
    expect(server!.output()).not.toMatch(/the CA certificate ends within a year/);
    await restartAt(3400);
    await until(() => /warn the CA certificate ends within a year: certificates it issued stop verifying then; plan the CA rollover \(docs\/SECURITY\.md\) notAfter="[^"]+" daysLeft=2[45]\d/.test(server!.output()), "the CA warning in the log");
  });
});

/** The certificate the server presents to a new connection (not verified: the test's clock is not the server's). */
function presented(port: number): Promise<{ serial: string; validTo: number }> {
  return new Promise((resolveCert, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      resolveCert({ serial: cert.serialNumber.toLowerCase().replace(/^0+/, ""), validTo: Date.parse(cert.valid_to) });
      s.destroy();
    });
    s.on("error", reject);
  });
}

describe("the running server renews its TLS certificate (RN8)", () => {
  test("a third of the lifetime left: new connections get a new certificate, an open session stays up, no restart", async () => {
    const clockFile = join(homes, "server-clock");
    writeFileSync(clockFile, "+0\n");
    const faked = join(homes, "tls-data");
    // libfaketime reads the offset from the file on every call: the running server's clock jumps when the file changes.
    // Monotonic time stays real, so timers run as usual.
    await using tlsServer = await startServe(faked, ["--tls-cert-days", "1", "--tls-renew-check", "1", "--idle-timeout", "86400"], {
      env: {
        // Not FAKETIME itself: it would take precedence over the file.
        LD_PRELOAD: fakeTime("+0").LD_PRELOAD!,
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      },
    });
    const first = await presented(tlsServer.port);
    expect(Math.abs(first.validTo - Date.now() - DAY)).toBeLessThan(60_000);
    expect(readFileSync(join(faked, "server.pem"), "utf8")).toContain("BEGIN CERTIFICATE");

    expectRun(await register(tlsServer, "erin", home("erin")), { code: 0, stderr: "" });
    const session = await rawConnect(tlsServer.port, { certPem: readFileSync(join(home("erin"), "cert.pem"), "utf8"), keyPem: readFileSync(join(home("erin"), "key.pem"), "utf8") });
    try {
      expect((await helloAs(session)).user).toBe("erin");
      // 17 h later, less than a third (8 h) of the one-day certificate is left: renewed within a check (1 s).
      writeFileSync(clockFile, "+17h\n");
      await until(() => /info TLS certificate renewed; new connections get it, open ones keep theirs serial="[0-9a-f]{32}"/.test(tlsServer.output()), "the server to log the renewal", 30_000);
      const second = await presented(tlsServer.port);
      expect(second.serial).not.toBe(first.serial);
      expect(second.validTo - first.validTo).toBeGreaterThan(16 * 60 * 60 * 1000);
      // The open session was not dropped: it still answers.
      session.write(encodeMessage({ type: "PING" }));
      expect(await session.next()).toEqual({ type: "PONG" });
      // Verified against the pinned CA by a client whose clock agrees with the server's.
      expectRun(await sis(["list", "--home", home("erin")], { env: fakeTime("+17h") }), { code: 0, stderr: "" });
      // The renewed pair is on disk for the next start.
      const onDisk = await openssl(["x509", "-noout", "-serial", "-in", join(faked, "server.pem")]);
      expect(onDisk.stdout.trim().toLowerCase().replace(/^serial=0*/, "")).toBe(second.serial);
      expect(tlsServer.proc.exitCode).toBeNull();
    } finally {
      session.destroy();
    }
  });
});
