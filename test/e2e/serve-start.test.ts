/** `sis serve` starting up, with the compiled binary: a port in use, a wildcard host, a fresh data directory, refused clients in the log. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { register, sis, startServe, tempDir } from "../support/cli.ts";
import { expectRun, openssl, until } from "../support/auth-kit.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

const root = tempDir("sis-e2e-serve-start-");
afterAll(() => root[Symbol.dispose]());

/** A port held by another listener for the duration of `body`. */
async function withPortTaken<T>(body: (port: number) => Promise<T>): Promise<T> {
  const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    return await body(holder.port);
  } finally {
    holder.stop(true);
  }
}

describe("a port already in use", () => {
  test("--port in use: exit 1, the message names the address and what to do, and no data directory is made", async () => {
    const data = join(root, "busy-protocol");
    await withPortTaken(async (port) => {
      const r = await sis(["serve", "--data", data, "--port", String(port), "--http-port", "0"]);
      expectRun(r, { code: 1, stdout: "", stderr: new RegExp(`^sis: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*--port\\n$`) });
    });
    expect(existsSync(data)).toBe(false);
  });

  test("--http-port in use: the same, naming --http-port", async () => {
    const data = join(root, "busy-http");
    await withPortTaken(async (port) => {
      const r = await sis(["serve", "--data", data, "--port", "0", "--http-port", String(port)]);
      expectRun(r, { code: 1, stdout: "", stderr: new RegExp(`^sis: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*--http-port\\n$`) });
    });
    expect(existsSync(data)).toBe(false);
  });
});

describe("--host 0.0.0.0 (P28a)", () => {
  test("prints addresses a client can use, the TLS certificate names them, and a client registers with 127.0.0.1", async () => {
    const data = join(root, "wildcard");
    await using server = await startServe(data, ["--host", "0.0.0.0"]);
    await until(() => server.output().includes("users register with:"), "the register line");
    const out = server.output();
    const line = /^users register with: sis register --server (\S+) /m.exec(out)?.[1];
    expect(line).toBeDefined();
    expect(line).not.toStartWith("0.0.0.0");
    expect(out).not.toContain("--server 0.0.0.0");
    const external = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal && a.family === "IPv4").map((a) => a.address);
    const reach = /^listening on every interface; clients reach it at (.+)$/m.exec(out)?.[1]?.split(", ") ?? [];
    expect(reach).toEqual([...external, "127.0.0.1", "localhost"].map((h) => `${h}:${server.port}`));
    expect(line).toBe(reach[0]);
    const san = await openssl(["x509", "-in", join(data, "server.pem"), "-noout", "-ext", "subjectAltName"]);
    expect(san.code).toBe(0);
    for (const ip of ["127.0.0.1", ...external]) expect(san.stdout).toContain(`IP Address:${ip}`);
    expect(san.stdout).toContain("DNS:localhost");
    expect(san.stdout).not.toContain("0.0.0.0");
    expectRun(await register(server, "wanda", join(root, "wanda")), { code: 0, stderr: "" });
    expectRun(await sis(["list", "--home", join(root, "wanda")]), { code: 0, stderr: "" });
  });
});

describe("a fresh data directory", () => {
  test("the first start says loudly on stderr that a new CA was made, where, and what it means for clients; the second start does not", async () => {
    const data = join(root, "fresh");
    {
      await using server = await startServe(data);
      await until(() => server.output().includes("Clients registered"), "the new-CA notice");
      const out = server.output();
      expect(out).toContain(`sis: NOTE: created a NEW certificate authority in ${data} (fingerprint ${server.fingerprint}).`);
      expect(out).toMatch(/registered with a server that used another data directory do not trust this CA/);
      expect(out).toContain("--data");
    }
    await using again = await startServe(data);
    expect(again.output()).not.toContain("NEW certificate authority");
  });

  test("a client registered with another data directory is refused, and the new server logs the refused connection", async () => {
    const first = join(root, "first");
    const home = join(root, "vera");
    const old = await startServe(first);
    const port = old.port;
    expectRun(await register(old, "vera", home), { code: 0, stderr: "" });
    await old.stop();
    // The mistake: `sis serve` from another folder, on the same port.
    await using other = await startServe(join(root, "other"), ["--port", String(port)]);
    expect(other.port).toBe(port);
    const r = await sis(["list", "--home", home]);
    // The client refuses the new CA during the TLS handshake (how it words that is the client's business).
    expect(r.code).not.toBe(0);
    await until(() => /warn connection closed before HELLO \(a client that does not trust this server's CA/.test(other.output()), "the server to log the refused connection");
    expect(other.output()).toMatch(/connection closed before HELLO .* address="127\.0\.0\.1"/);
  });
});
