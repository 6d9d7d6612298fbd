/** Hostile clients against a compiled `sis serve`: each is answered with its error code and the server keeps serving the next client. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CONTROL, encodeMessage } from "../../src/protocol/index.ts";
import { dirsForFile } from "../support/sandbox.ts";
import { register, sis, startServe, type ServerProcess } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";
import {
  anonymousHello, certFile, certPath, closedWithin, csrFixtureBase64, expectError, expectRun, freshCsr, helloAs, opensslFingerprint, rawFrame,
} from "../support/auth-kit.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, homes, home } = dirsForFile("sis-e2e-hostile", () => server);
/** A valid CSR for REGISTER requests that must fail before any certificate is issued. */
let spareCsr: string;

// Failed logins from 127.0.0.1 also count per address (10 throttle everyone, P17):
// this file makes 6 (one wrong password, five in the back-off test).

beforeAll(async () => {
  server = await startServe(data);
  const [alice] = await Promise.all([register(server, "alice", home("alice")), freshCsr("spare").then((c) => (spareCsr = c.csr))]);
  expectRun(alice, { code: 0, stderr: "", stdout: /^registered alice / });
}, 90_000);

afterEach(async () => {
  // Whatever the last client did, the server process is alive and greets the next one.
  expect(server.proc.exitCode).toBeNull();
  expect(await anonymousHello(server.port)).toMatchObject({ type: "HELLO", user: null });
});

/** `sis register` as USER into a fresh home, password on stdin. */
function registerAs(user: string, homeName: string, password: string) {
  return sis(["register", "--server", server.address, "--user", user, "--home", home(homeName), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], {
    stdin: `${password}\n`,
  });
}

/** One REGISTER on a fresh anonymous raw connection. */
async function rawRegister(username: string, password: string, csr = spareCsr) {
  await using client = await rawConnect(server.port);
  await helloAs(client);
  client.write(encodeMessage({ type: "REGISTER", username, password, csr }));
  return await client.next();
}

describe("registration attacks", () => {
  test("a wrong password is AUTH_FAILED: exit 1, and no key or certificate is saved", async () => {
    const r = await registerAs("alice", "alice-impostor", "not-alices-password");
    expectRun(r, { code: 1, stdout: "", stderr: "sis: cannot register: wrong username or password (AUTH_FAILED)\n" });
    expect(existsSync(join(home("alice-impostor"), "cert.pem"))).toBe(false);
    expect(existsSync(join(home("alice-impostor"), "key.pem"))).toBe(false);
  });

  test("a CSR signed by a different key than it carries (certs/bad-pop.csr) is BAD_CSR", async () => {
    await using client = await rawConnect(server.port);
    await helloAs(client);
    client.write(encodeMessage({ type: "REGISTER", username: "mallory", password: "mallory-password-1", csr: csrFixtureBase64("bad-pop.csr") }));
    await expectError(client, "BAD_CSR");
    // Not fatal: the same connection still answers.
    client.write(encodeMessage({ type: "PING" }));
    expect(await client.next()).toEqual({ type: "PONG" });
  });

  test("a CSR whose key is too small (certs/weak-1024.csr) is WEAK_KEY", async () => {
    expect(await rawRegister("weakling", "weakling-password-1", csrFixtureBase64("weak-1024.csr"))).toMatchObject({ type: "ERROR", code: "WEAK_KEY" });
  });

  test("neither bad CSR created its user: the names are still free", async () => {
    const certs = await sis(["admin", "certs", "--data", data, "--json"]);
    expectRun(certs, { code: 0, stderr: "" });
    const users = (JSON.parse(certs.stdout) as { user: string }[]).map((c) => c.user);
    expect(users).not.toContain("mallory");
    expect(users).not.toContain("weakling");
  });

  test.each([
    ["a slash", "al/ice"],
    ["'..'", ".."],
    ["a control character", "al\u0007ice"],
    ["1,000 characters", "a".repeat(1000)],
  ])("sis register with a username with %s is BAD_USERNAME (exit 1) and saves no key", async (_what, username) => {
    const r = await registerAs(username, "bad-name", "good-password-1");
    expectRun(r, { code: 1, stdout: "", stderr: /\(BAD_USERNAME\)\n$/ });
    expect(existsSync(join(home("bad-name"), "key.pem"))).toBe(false);
  });
});

describe("frame attacks", () => {
  test("an oversized frame length is FRAME_TOO_LARGE and the connection is closed", async () => {
    await using client = await rawConnect(server.port);
    client.write(rawFrame(CONTROL, 0x7fffffff));
    await expectError(client, "FRAME_TOO_LARGE");
    expect(await closedWithin(client)).toBe(true);
  });

  test("garbage instead of a hello is refused on the first frame and the connection is closed", async () => {
    await using client = await rawConnect(server.port);
    client.write("SSH-2.0-OpenSSH_9.6\r\n");
    await expectError(client, "BAD_FRAME");
    expect(await closedWithin(client)).toBe(true);
  });

  test("a well-formed frame that is not a HELLO is HELLO_REQUIRED", async () => {
    await using client = await rawConnect(server.port);
    client.write(encodeMessage({ type: "LIST" }));
    await expectError(client, "HELLO_REQUIRED");
    expect(await closedWithin(client)).toBe(true);
  });
});

describe("certificate attacks", () => {
  test("a request that needs authentication, without a certificate, is AUTH_REQUIRED", async () => {
    await using client = await rawConnect(server.port);
    expect(await helloAs(client)).toMatchObject({ user: null });
    client.write(encodeMessage({ type: "LIST" }));
    await expectError(client, "AUTH_REQUIRED");
  });

  test("a certificate from a foreign CA (certs/foreign-alice.pem) is CERT_UNKNOWN although it says CN=alice", async () => {
    await using client = await rawConnect(server.port, { certPem: certFile("foreign-alice.pem"), keyPem: certFile("foreign-alice.key") });
    client.write(encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "impostor" }));
    await expectError(client, "CERT_UNKNOWN");
    expect(await closedWithin(client)).toBe(true);
  });

  test("sis list from a home holding the foreign certificate exits 3 with CERT_UNKNOWN", async () => {
    // alice's real home, with her key and certificate swapped for the foreign pair.
    cpSync(home("alice"), home("alice-forged"), { recursive: true });
    cpSync(certPath("foreign-alice.pem"), join(home("alice-forged"), "cert.pem"));
    cpSync(certPath("foreign-alice.key"), join(home("alice-forged"), "key.pem"));
    chmodSync(join(home("alice-forged"), "key.pem"), 0o600);
    const r = await sis(["list", "--home", home("alice-forged")]);
    expectRun(r, { code: 3, stdout: "", stderr: /^sis: cannot list: .*\(CERT_UNKNOWN\)\n$/ });
  });

  test("a client pinned to another CA (certs/foreign-ca.pem) exits 3 and writes nothing to its home", async () => {
    const foreign = await opensslFingerprint(certPath("foreign-ca.pem"));
    const r = await sis(["register", "--server", server.address, "--user", "bob", "--home", home("bob"), "--password-stdin", "--ca-fingerprint", foreign, "--key-bits", "2048"], {
      stdin: "bob-password-1\n",
    });
    expectRun(r, { code: 3, stdout: "", stderr: /^sis: cannot trust 127\.0\.0\.1:\d+: its CA fingerprint is .*, not the one you gave/ });
    expect(existsSync(home("bob")) ? readdirSync(home("bob")) : []).toEqual([]);
  });
});

describe("login back-off (P17)", () => {
  test("repeated wrong passwords are THROTTLED with retryAfter, even for the right password, and sis register reports it", async () => {
    mkdirSync(home("victim"), { recursive: true });
    expectRun(await registerAs("victim", "victim", "victim-password-1"), { code: 0, stderr: "", stdout: /^registered victim / });
    for (let i = 0; i < 3; i++) expect(await rawRegister("victim", "wrong-password")).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });

    const throttled = await rawRegister("victim", "victim-password-1");
    expect(throttled).toMatchObject({ type: "ERROR", code: "THROTTLED" });
    const retryAfter = throttled?.type === "ERROR" ? throttled.retryAfter : undefined;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(900);

    // Two more failures, each allowed only once the back-off has passed, make the wait 4 s:
    // long enough for a whole `sis register` (process start, key generation) to arrive inside it.
    for (let failures = 3; failures < 5; ) {
      const reply = await rawRegister("victim", "wrong-password");
      if (reply?.type === "ERROR" && reply.code === "AUTH_FAILED") {
        failures++;
        continue;
      }
      expect(reply).toMatchObject({ type: "ERROR", code: "THROTTLED" });
      // Nothing to await but the clock: wait exactly as long as the server says.
      await Bun.sleep(((reply?.type === "ERROR" && reply.retryAfter) || 1) * 1000);
    }
    const r = await registerAs("victim", "victim-2", "victim-password-1");
    expectRun(r, { code: 1, stdout: "", stderr: /^sis: cannot register: too many failed attempts; wait [1-4] s and try again \(THROTTLED\)\n$/ });
    expect(existsSync(join(home("victim-2"), "cert.pem"))).toBe(false);
  });
});
