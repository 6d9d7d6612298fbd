/** Revocation end to end: `sis admin revoke` while `sis serve` runs, the next connection refused, the CRL as OpenSSL reads it. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dirsForFile } from "../support/sandbox.ts";
import { register, sis, startServe, startWatch, tempDir, type ServerProcess } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";
import { closedWithin, expectError, expectRun, helloAs, helloFrame, openssl, until } from "../support/auth-kit.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, homes, home } = dirsForFile("sis-e2e-revoke", () => server);
const serials: Record<string, string> = {};

/** The certificate serial a home holds, as `sis whoami --json` reports it. */
async function serialOf(homeName: string): Promise<string> {
  const r = await sis(["whoami", "--home", home(homeName), "--json"]);
  expectRun(r, { code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as { serial: string }).serial;
}

async function certStatuses(): Promise<Record<string, string>> {
  const r = await sis(["admin", "certs", "--data", data, "--json"]);
  expectRun(r, { code: 0, stderr: "" });
  return Object.fromEntries((JSON.parse(r.stdout) as { serial: string; status: string }[]).map((c) => [c.serial, c.status]));
}

function listAs(homeName: string) {
  return sis(["list", "--home", home(homeName)]);
}

/** The CRL the running server serves, saved for OpenSSL. */
async function fetchCrl(name: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/crl.pem`);
  expect(res.status).toBe(200);
  const path = join(homes, name);
  writeFileSync(path, await res.text());
  return path;
}

function verifyWithCrl(crlPath: string, homeName: string) {
  return openssl(["verify", "-crl_check", "-CRLfile", crlPath, "-CAfile", join(data, "ca.pem"), join(home(homeName), "cert.pem")]);
}

beforeAll(async () => {
  server = await startServe(data);
  // alice on two devices (the phone enrols after the laptop registered), bob on one.
  const [laptop, bob] = await Promise.all([register(server, "alice", home("alice-laptop")), register(server, "bob", home("bob"))]);
  const phone = await register(server, "alice", home("alice-phone"));
  for (const r of [laptop, bob, phone]) expectRun(r, { code: 0, stderr: "" });
  for (const h of ["alice-laptop", "alice-phone", "bob"]) serials[h] = await serialOf(h);
}, 90_000);

describe("before any revocation", () => {
  test("every certificate is valid, lists, and verifies against the CRL", async () => {
    const statuses = await certStatuses();
    for (const h of ["alice-laptop", "alice-phone", "bob"]) expect({ h, status: statuses[serials[h]!] }).toEqual({ h, status: "valid" });
    expectRun(await listAs("alice-laptop"), { code: 0, stderr: "" });
    const crl = await fetchCrl("crl-0.pem");
    expectRun(await verifyWithCrl(crl, "alice-laptop"), { code: 0, stderr: "", stdout: /: OK\n$/ });
  });
});

describe("sis admin revoke --serial while the server runs", () => {
  beforeAll(async () => {
    const r = await sis(["admin", "revoke", "--data", data, "--serial", serials["alice-laptop"]!]);
    expectRun(r, { code: 0, stderr: "", stdout: `revoked certificate ${serials["alice-laptop"]} of alice\n` });
  }, 30_000);

  test("sis list with the revoked certificate exits 3 with CERT_REVOKED", async () => {
    expectRun(await listAs("alice-laptop"), { code: 3, stdout: "", stderr: /^sis: cannot list: your certificate has been revoked.*\(CERT_REVOKED\)\n$/ });
  });

  test("a raw connection with the revoked certificate gets CERT_REVOKED to its HELLO and is closed", async () => {
    const h = home("alice-laptop");
    await using client = await rawConnect(server.port, { certPem: readFileSync(join(h, "cert.pem"), "utf8"), keyPem: readFileSync(join(h, "key.pem"), "utf8") });
    client.write(helloFrame());
    await expectError(client, "CERT_REVOKED");
    expect(await closedWithin(client)).toBe(true);
  });

  test("alice's other device and bob keep working", async () => {
    expectRun(await listAs("alice-phone"), { code: 0, stderr: "" });
    expectRun(await listAs("bob"), { code: 0, stderr: "" });
    expect(server.proc.exitCode).toBeNull();
  });

  test("sis admin certs --json says revoked for that serial and valid for the others", async () => {
    const statuses = await certStatuses();
    expect([statuses[serials["alice-laptop"]!], statuses[serials["alice-phone"]!], statuses[serials.bob!]]).toEqual(["revoked", "valid", "valid"]);
  });

  test("/crl.pem is an X509 CRL that openssl crl parses and that lists exactly the revoked serial", async () => {
    const crl = await fetchCrl("crl-1.pem");
    expect(readFileSync(crl, "utf8")).toStartWith("-----BEGIN X509 CRL-----\n");
    const r = await openssl(["crl", "-in", crl, "-noout", "-text", "-CAfile", join(data, "ca.pem")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("verify OK");
    const listed = [...r.stdout.matchAll(/Serial Number: ([0-9A-F:]+)/g)].map((m) => m[1]!.replace(/:/g, "").toLowerCase().replace(/^(00)+/, ""));
    expect(listed).toEqual([serials["alice-laptop"]!]);
  });

  test("openssl verify -crl_check with that CRL rejects the revoked certificate and accepts a valid one", async () => {
    const crl = await fetchCrl("crl-2.pem");
    const revoked = await verifyWithCrl(crl, "alice-laptop");
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain("certificate revoked");
    expectRun(await verifyWithCrl(crl, "bob"), { code: 0, stderr: "", stdout: /: OK\n$/ });
  });

  test("revoking the same serial again says so and changes nothing", async () => {
    const r = await sis(["admin", "revoke", "--data", data, "--serial", serials["alice-laptop"]!]);
    expectRun(r, { code: 0, stderr: "", stdout: `certificate ${serials["alice-laptop"]} of alice was already revoked\n` });
  });
});

describe("sis admin revoke USER", () => {
  test("revokes the user's remaining certificates; her next connection is refused, bob's is not", async () => {
    const r = await sis(["admin", "revoke", "--data", data, "alice"]);
    expectRun(r, { code: 0, stderr: "", stdout: "revoked 1 certificate of alice\n" });
    expectRun(await listAs("alice-phone"), { code: 3, stdout: "", stderr: /\(CERT_REVOKED\)\n$/ });
    expectRun(await listAs("bob"), { code: 0, stderr: "" });
  });

  test("alice can enrol a new key with her password and is accepted again", async () => {
    const r = await register(server, "alice", home("alice-new"));
    expectRun(r, { code: 0, stderr: "", stdout: /^enrolled a new key for alice / });
    expectRun(await listAs("alice-new"), { code: 0, stderr: "" });
    const statuses = await certStatuses();
    expect(statuses[await serialOf("alice-new")]).toBe("valid");
  });

  test.each([
    ["an unknown user", ["alice-and-bob"], /^sis: cannot run admin: no user 'alice-and-bob'/],
    ["an unknown serial", ["--serial", "0badc0de"], /^sis: cannot run admin: no certificate with serial 0badc0de/],
    ["both a user and a serial", ["alice", "--serial", "01"], /^sis: cannot run admin: give a USER or --serial HEX, not both/],
  ])("refuses %s with exit 2", async (_what, args, stderr) => {
    expectRun(await sis(["admin", "revoke", "--data", data, ...args]), { code: 2, stdout: "", stderr });
  });

  test("the revoked laptop stays refused after alice re-enrolled, and anonymous clients are still greeted", async () => {
    const h = home("alice-laptop");
    await using client = await rawConnect(server.port, { certPem: readFileSync(join(h, "cert.pem"), "utf8"), keyPem: readFileSync(join(h, "key.pem"), "utf8") });
    client.write(helloFrame());
    await expectError(client, "CERT_REVOKED");
    await using anon = await rawConnect(server.port);
    expect(await helloAs(anon)).toMatchObject({ user: null });
  });
});

describe("P5a: sis admin revoke in another process ends an open sis watch", () => {
  test("erin's running watch stops with exit 3 saying the certificate was revoked; the server logs it", async () => {
    expectRun(await register(server, "erin", home("erin")), { code: 0, stderr: "" });
    const out = join(homes, "erin-out");
    mkdirSync(out, { recursive: true });
    await using watcher = startWatch(home("erin"), out);
    await watcher.waitFor(/ connected to /);
    // PING keeps this session alive: only the revocation check can end it.
    expectRun(await sis(["admin", "revoke", "--data", data, "erin"]), { code: 0, stderr: "", stdout: "revoked 1 certificate of erin\n" });
    const code = await Promise.race([watcher.proc.exited, Bun.sleep(45_000).then(() => "still running")]);
    expect({ code, lines: watcher.lines }).toMatchObject({ code: 3 });
    expect(watcher.lines.join("\n")).toMatch(/^sis: cannot watch: your certificate was revoked.*\(CERT_REVOKED\)$/m);
    await until(() => /revoked certificate: session ended .*user="erin"/.test(server.output()), "the server to log the ended session");
  });
});
