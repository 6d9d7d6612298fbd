/** End to end with the compiled binary: serve, register, whoami, the certificates as OpenSSL sees them, the TLS channel, restart. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeMessage } from "../../src/protocol/index.ts";
import { dirsForFile } from "../support/sandbox.ts";
import { register, sis, startServe, type Result, type ServerProcess } from "../support/cli.ts";
import { expectRun, helloFrame, openssl, opensslFingerprint } from "../support/auth-kit.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, homes, home } = dirsForFile("sis-e2e-register", () => server);
let firstStart: string;
const registered: Record<string, Result> = {};

beforeAll(async () => {
  server = await startServe(data);
  firstStart = server.output();
  const [alice, bob] = await Promise.all([register(server, "alice", home("alice")), register(server, "bob", home("bob"))]);
  registered.alice = alice;
  registered.bob = bob;
}, 90_000);

/** The serial OpenSSL reads from a certificate, normalised like sis serials. */
async function opensslSerial(pem: string): Promise<string> {
  const r = await openssl(["x509", "-noout", "-serial", "-in", pem]);
  expectRun(r, { code: 0, stderr: "", stdout: /^serial=[0-9A-F]+\n$/ });
  return r.stdout.trim().replace(/^serial=/, "").toLowerCase().replace(/^(00)+/, "");
}

describe("sis serve", () => {
  test("prints the fingerprint OpenSSL computes for the CA certificate in its data directory", async () => {
    expect(firstStart).toContain("(new CA created)");
    expect(server.fingerprint).toBe(await opensslFingerprint(join(data, "ca.pem")));
    expect(firstStart).toContain(`sis register --server 127.0.0.1:${server.port} --user NAME --ca-fingerprint ${server.fingerprint}`);
  });

  test("keeps ca.key, server.key and storage.key readable by the owner only", () => {
    for (const key of ["ca.key", "server.key", "storage.key"]) {
      expect({ key, mode: (statSync(join(data, key)).mode & 0o777).toString(8) }).toEqual({ key, mode: "600" });
    }
  });

  test("keeps sis.db in WAL mode", () => {
    // SQLite file header bytes 18 and 19 (write and read format versions) are 2 in WAL mode.
    const header = readFileSync(join(data, "sis.db")).subarray(0, 20);
    expect(header.subarray(0, 16).toString("latin1")).toBe("SQLite format 3\0");
    expect([header[18], header[19]]).toEqual([2, 2]);
  });

  test("serves /ca.pem (the data directory's ca.pem), /crl.pem (an X509 CRL OpenSSL parses) and /healthz over HTTP", async () => {
    const base = `http://127.0.0.1:${server.httpPort}`;
    const ca = await fetch(`${base}/ca.pem`);
    expect(ca.status).toBe(200);
    expect(await ca.text()).toBe(readFileSync(join(data, "ca.pem"), "utf8"));

    const crl = await (await fetch(`${base}/crl.pem`)).text();
    expect(crl).toStartWith("-----BEGIN X509 CRL-----\n");
    const parsed = await openssl(["crl", "-noout", "-issuer", "-CAfile", join(data, "ca.pem")], { stdin: crl });
    expect(parsed.code).toBe(0);
    expect(parsed.stderr).toContain("verify OK");
    expect(parsed.stdout).toMatch(/^issuer=CN ?= ?sis CA /);

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });
  });
});

describe("sis register", () => {
  test("registers alice and bob with --password-stdin --ca-fingerprint and keeps each key 0600", () => {
    for (const user of ["alice", "bob"]) {
      expectRun(registered[user]!, {
        code: 0,
        stderr: "",
        stdout: new RegExp(
          `^registered ${user} at 127\\.0\\.0\\.1:${server.port}\\ncertificate serial [0-9a-f]+, valid until \\d{4}-.*Z\\npinned CA ${server.fingerprint}\\nhome ${home(user)}\\n$`,
        ),
      });
      expect((statSync(join(home(user), "key.pem")).mode & 0o777).toString(8)).toBe("600");
      expect(readFileSync(join(home(user), "ca.pem"), "utf8")).toBe(readFileSync(join(data, "ca.pem"), "utf8"));
    }
  });

  test("takes the password from SIS_PASSWORD when there is no terminal", async () => {
    const r = await sis(["register", "--server", server.address, "--user", "carol", "--home", home("carol"), "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], {
      env: { SIS_PASSWORD: "carol-password-1" },
    });
    expectRun(r, { code: 0, stderr: "", stdout: /^registered carol at / });
    // The same password enrols a second key, so it really was the one stored.
    const again = await sis(["register", "--server", server.address, "--user", "carol", "--home", home("carol-2"), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], {
      stdin: "carol-password-1\n",
    });
    expectRun(again, { code: 0, stderr: "", stdout: /^enrolled a new key for carol at / });
  });

  test("without --ca-fingerprint and not on a terminal exits 3, says how to get the fingerprint and writes nothing", async () => {
    const r = await sis(["register", "--server", server.address, "--user", "dave", "--home", home("dave"), "--key-bits", "2048"], { env: { SIS_PASSWORD: "dave-password-1" } });
    expectRun(r, { code: 3, stdout: "", stderr: /^sis: cannot trust 127\.0\.0\.1:\d+ without its CA fingerprint: .*sis serve prints it.*openssl x509 -noout -fingerprint -sha256.*--ca-fingerprint/ });
    expect(existsSync(home("dave"))).toBe(false);
  });

  test.each([
    ["an unknown flag", ["register", "--server", "127.0.0.1:1", "--user", "x", "--bogus"], /^sis: cannot run register: unknown option '--bogus'; see 'sis register --help'\n$/],
    ["a missing --server", ["register", "--user", "frank"], /^sis: cannot run register: --server HOST:PORT is required/],
    ["an unknown flag to serve", ["serve", "--bogus"], /^sis: cannot run serve: unknown option '--bogus'/],
    ["an unknown command", ["regster"], /^sis: cannot run 'regster': no such command/],
  ])("exits 2 for a usage error: %s", async (_what, args, stderr) => {
    expectRun(await sis(args, { stdin: "frank-password-1\n" }), { code: 2, stdout: "", stderr });
  });
});

describe("the issued certificates, judged by OpenSSL", () => {
  test("openssl verify -CAfile ca.pem accepts alice's and bob's certificates", async () => {
    for (const user of ["alice", "bob"]) {
      const r = await openssl(["verify", "-CAfile", join(data, "ca.pem"), join(home(user), "cert.pem")]);
      expectRun(r, { code: 0, stderr: "", stdout: `${join(home(user), "cert.pem")}: OK\n` });
    }
  });

  test("openssl x509 -text shows CN=<user>, keyUsage, extendedKeyUsage, and an AKI equal to the CA's SKI", async () => {
    const text = await openssl(["x509", "-noout", "-text", "-in", join(home("alice"), "cert.pem")]);
    expectRun(text, { code: 0, stderr: "" });
    const t = text.stdout;
    expect(t).toMatch(/Subject: CN ?= ?alice\n/);
    expect(t).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    expect(t).toMatch(/X509v3 Extended Key Usage: *\n\s+TLS Web Client Authentication, E-mail Protection\n/);
    expect(t).toMatch(/Public-Key: \(2048 bit\)/);
    const ski = /X509v3 Subject Key Identifier: *\n\s+([0-9A-F:]+)\n/.exec(t)?.[1];
    const aki = /X509v3 Authority Key Identifier: *\n\s+(?:keyid:)?([0-9A-F:]+)\n/.exec(t)?.[1];
    expect(ski).toBeDefined();
    expect(aki).toBeDefined();
    const caText = (await openssl(["x509", "-noout", "-text", "-in", join(data, "ca.pem")])).stdout;
    const caSki = /X509v3 Subject Key Identifier: *\n\s+([0-9A-F:]+)\n/.exec(caText)?.[1];
    expect(aki).toBe(caSki!);
    expect(ski).not.toBe(caSki!);
  });

  test("sis whoami shows the registration, with the serial OpenSSL reads from the certificate", async () => {
    const serial = await opensslSerial(join(home("alice"), "cert.pem"));
    const text = await sis(["whoami", "--home", home("alice")]);
    expectRun(text, {
      code: 0,
      stderr: "",
      stdout: new RegExp(`^user +alice\\nserial +${serial}\\nexpires +\\d{4}-.*Z\\nCA +${server.fingerprint}\\nserver +127\\.0\\.0\\.1:${server.port}\\nhome +${home("alice")}\\nstorage +0 B in 0 images, of a 10 GiB \\(10737418240 B\\) quota\\n$`),
    });
    const json = await sis(["whoami", "--home", home("alice"), "--json"]);
    expectRun(json, { code: 0, stderr: "" });
    expect(JSON.parse(json.stdout)).toMatchObject({ user: "alice", serial, caFingerprint: server.fingerprint, server: server.address });
  });
});

describe("the TLS channel on the protocol port", () => {
  test("openssl s_client with alice's certificate verifies the server (return code 0) over TLS 1.3 and is greeted as alice", async () => {
    // Two HELLOs: the server answers the first and closes on the second (BAD_MESSAGE), so s_client ends by itself.
    const stdin = Buffer.concat([helloFrame(), helloFrame()]);
    const r = await openssl(
      ["s_client", "-connect", server.address, "-CAfile", join(home("alice"), "ca.pem"), "-cert", join(home("alice"), "cert.pem"), "-key", join(home("alice"), "key.pem"),
        "-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error", "-ign_eof", "-nocommands"],
      { stdin },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/error|alert/i);
    expect(r.stdout).toContain("Verify return code: 0 (ok)");
    expect(r.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_/);
    expect(r.stdout).toContain('"user":"alice"');
    expect(r.stdout).toContain('"code":"BAD_MESSAGE"');
  });

  test("openssl s_client -tls1_2 is refused with a protocol-version alert", async () => {
    const r = await openssl(["s_client", "-connect", server.address, "-tls1_2", "-CAfile", join(data, "ca.pem")], { stdin: "" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("alert protocol version");
    expect(r.stdout).toContain("Cipher is (NONE)");
  });

  test("a client certificate does not change the version rule: -tls1_2 with alice's certificate is refused too", async () => {
    const r = await openssl(["s_client", "-connect", server.address, "-tls1_2", "-cert", join(home("alice"), "cert.pem"), "-key", join(home("alice"), "key.pem")], {
      stdin: encodeMessage({ type: "PING" }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("alert protocol version");
    expect(r.stdout).toContain("Cipher is (NONE)");
  });
});

describe("a second device", () => {
  test("the same user with the right password and another --home gets a new certificate; the old one still works", async () => {
    const second = await register(server, "alice", home("alice-laptop"));
    expectRun(second, { code: 0, stderr: "", stdout: new RegExp(`^enrolled a new key for alice at 127\\.0\\.0\\.1:${server.port}\\n`) });
    const [old, fresh] = await Promise.all([opensslSerial(join(home("alice"), "cert.pem")), opensslSerial(join(home("alice-laptop"), "cert.pem"))]);
    expect(fresh).not.toBe(old);
    expect(readFileSync(join(home("alice-laptop"), "key.pem"), "utf8")).not.toBe(readFileSync(join(home("alice"), "key.pem"), "utf8"));
    for (const device of ["alice", "alice-laptop"]) {
      expectRun(await sis(["list", "--home", home(device)]), { code: 0, stderr: "" });
    }
    const certs = await sis(["admin", "certs", "--data", data, "--json"]);
    expectRun(certs, { code: 0, stderr: "" });
    const rows = JSON.parse(certs.stdout) as { user: string; serial: string; status: string }[];
    expect(rows.filter((c) => c.user === "alice").map((c) => [c.serial, c.status]).sort()).toEqual([[old, "valid"], [fresh, "valid"]].sort());
  }, 30_000);

  test("sis admin certs --json lists every certificate with user, serial, notAfter and status valid", async () => {
    const certs = await sis(["admin", "certs", "--data", data, "--json"]);
    expectRun(certs, { code: 0, stderr: "" });
    const rows = JSON.parse(certs.stdout) as Record<string, string>[];
    const bobSerial = await opensslSerial(join(home("bob"), "cert.pem"));
    expect(rows).toContainEqual({ user: "bob", serial: bobSerial, notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), status: "valid" });
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(["notAfter", "serial", "status", "user"]);
  });
});

describe("a home that already holds a registration", () => {
  const certRows = async () => {
    const r = await sis(["admin", "certs", "--data", data, "--json"]);
    expectRun(r, { code: 0, stderr: "" });
    return JSON.parse(r.stdout) as { user: string; serial: string }[];
  };

  test("another user registering into it is refused, says whose it is and suggests another --home; the key stays", async () => {
    const before = { key: readFileSync(join(home("alice"), "key.pem"), "utf8"), cert: readFileSync(join(home("alice"), "cert.pem"), "utf8") };
    const r = await register(server, "erin", home("alice"));
    expectRun(r, { code: 1, stdout: "", stderr: `sis: cannot register erin in ${home("alice")}: it already holds alice's key and certificate; pass another --home for erin, e.g. --home ${home("alice")}-erin\n` });
    expect({ key: readFileSync(join(home("alice"), "key.pem"), "utf8"), cert: readFileSync(join(home("alice"), "cert.pem"), "utf8") }).toEqual(before);
    expect((await certRows()).filter((c) => c.user === "erin")).toEqual([]);
    expectRun(await sis(["whoami", "--home", home("alice")]), { code: 0, stderr: "", stdout: /^user +alice\n/ });
    expectRun(await sis(["list", "--home", home("alice")]), { code: 0, stderr: "" });
  });

  test("the same user enrolling again into their own home is refused while the key works; the key stays", async () => {
    const before = readFileSync(join(home("bob"), "key.pem"), "utf8");
    const bobCerts = (await certRows()).filter((c) => c.user === "bob").length;
    const r = await register(server, "bob", home("bob"));
    expectRun(r, {
      code: 1,
      stdout: "",
      stderr: new RegExp(`^sis: cannot register bob in ${home("bob")}: it already holds bob's working key \\(certificate valid until \\d{4}-.*Z\\); to enrol another device, pass another --home, e.g. --home ${home("bob")}-2\\n$`),
    });
    expect(readFileSync(join(home("bob"), "key.pem"), "utf8")).toBe(before);
    expect((await certRows()).filter((c) => c.user === "bob").length).toBe(bobCerts);
    expectRun(await sis(["list", "--home", home("bob")]), { code: 0, stderr: "" });
  });

  test("a key without a readable registration is never overwritten", async () => {
    const h = home("stray-key");
    mkdirSync(h, { recursive: true });
    writeFileSync(join(h, "key.pem"), "-----BEGIN PRIVATE KEY-----\nsomeone's\n-----END PRIVATE KEY-----\n", { mode: 0o600 });
    const r = await register(server, "hank", h);
    expectRun(r, { code: 1, stdout: "", stderr: /^sis: cannot register hank in .*: it holds a private key but no readable registration; move .*key\.pem away or pass another --home/ });
    expect(readFileSync(join(h, "key.pem"), "utf8")).toContain("someone's");
  });

  test("a home whose certificate has expired is renewed in place for the same user", async () => {
    expectRun(await register(server, "gina", home("gina")), { code: 0, stderr: "", stdout: /^registered gina / });
    const profilePath = join(home("gina"), "profile.json");
    const profile = JSON.parse(readFileSync(profilePath, "utf8")) as { notAfter: number; serial: string };
    writeFileSync(profilePath, JSON.stringify({ ...profile, notAfter: Date.now() - 1000 }));
    const oldKey = readFileSync(join(home("gina"), "key.pem"), "utf8");
    const r = await register(server, "gina", home("gina"));
    expectRun(r, { code: 0, stderr: "", stdout: /^enrolled a new key for gina / });
    expect(readFileSync(join(home("gina"), "key.pem"), "utf8")).not.toBe(oldKey);
    expect((JSON.parse(readFileSync(profilePath, "utf8")) as { serial: string }).serial).not.toBe(profile.serial);
    expectRun(await sis(["list", "--home", home("gina")]), { code: 0, stderr: "" });
  });
});

describe("a restart", () => {
  test("on the same port reuses the CA (same fingerprint) and alice authenticates again", async () => {
    const port = server.port;
    await server.stop();
    expect(server.proc.exitCode).toBe(0);
    server = await startServe(data, ["--port", String(port)]);
    expect(server.port).toBe(port);
    expect(server.fingerprint).toBe(await opensslFingerprint(join(data, "ca.pem")));
    expect(server.output()).not.toContain("new CA created");
    expect(server.output()).toContain(`CA fingerprint (SHA-256): ${server.fingerprint}`);
    expect(firstStart).toContain(`CA fingerprint (SHA-256): ${server.fingerprint}`);
    expectRun(await sis(["list", "--home", home("alice")]), { code: 0, stderr: "" });
    expectRun(await sis(["list", "--home", home("bob")]), { code: 0, stderr: "" });
  }, 60_000);
});
