/** startServer() in-process on port 0: registration, enrolment, certificate checks and raw-frame hostile input over real TLS. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certInfo, createKeyAndCsr, toPem, verifyCrl, verifyUserCert } from "../../src/pki/index.ts";
import { CONTROL, DATA, encodeData, encodeMessage, fromBase64, MAX_CONTROL_FRAME, MAX_DATA_FRAME, type ServerMessage } from "../../src/protocol/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { startServer, type RunningServer } from "../../src/app/serve.ts";
import {
  anonymousHello, certFile, closedWithin, controlFrame, csrFixtureBase64, expectError, freshCsr, helloAs, helloFrame, rawFrame, until,
} from "../support/auth-kit.ts";
import { rawConnect } from "../support/raw-client.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

type Registered = Extract<ServerMessage, { type: "REGISTERED" }>;

async function boot(limits: { maxConnectionsPerAddress?: number } = {}): Promise<RunningServer & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sis-serve-"));
  const server = await startServer({ dataDir: dir, host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: 0, log: silentLogger, version: "test", limits, openRegistration: true });
  return Object.assign(server, { dir });
}

async function shutdown(server: (RunningServer & { dir: string }) | undefined): Promise<void> {
  if (!server) return;
  await server.stop();
  rmSync(server.dir, { recursive: true, force: true });
}

/** One REGISTER on a fresh anonymous connection; returns the reply (REGISTERED or ERROR). */
async function registerRaw(port: number, username: string, password: string, csr: string): Promise<ServerMessage | null> {
  await using client = await rawConnect(port);
  await helloAs(client);
  client.write(encodeMessage({ type: "REGISTER", username, password, csr }));
  return await client.next();
}

async function registerOk(port: number, username: string, password: string): Promise<Registered & { keyPem: string; certPem: string }> {
  const { csr, keyPem } = await freshCsr(username);
  const reply = await registerRaw(port, username, password, csr);
  if (reply?.type !== "REGISTERED") throw new Error(`registration of ${username} failed: ${JSON.stringify(reply)}`);
  return { ...reply, keyPem, certPem: toPem(fromBase64(reply.certificate), "CERTIFICATE") };
}

let server: RunningServer & { dir: string };
let port: number;
/** One valid CSR reused by requests that must fail before issuance. */
let spareCsr: string;
let alice: Awaited<ReturnType<typeof registerOk>>;

beforeAll(async () => {
  server = await boot();
  port = server.port;
  [spareCsr, alice] = await Promise.all([freshCsr("spare").then((c) => c.csr), registerOk(server.port, "alice", "alice-password-1")]);
}, 60_000);

afterAll(() => shutdown(server), 30_000);

// Note: every failed login here also counts against 127.0.0.1 (10 from one address throttle
// everyone, P17). This server sees fewer than 10; the address limit has its own server below.

describe("startServer() frame and hello hostility (P6, P10, P12)", () => {
  const cases: [string, () => Uint8Array, string][] = [
    ["an unknown frame kind is BAD_FRAME", () => rawFrame(0x03, 4, "abcd"), "BAD_FRAME"],
    ["a zero-length frame is BAD_FRAME", () => rawFrame(CONTROL, 0), "BAD_FRAME"],
    ["a control frame one byte over the limit is FRAME_TOO_LARGE before its payload arrives", () => rawFrame(CONTROL, MAX_CONTROL_FRAME + 1), "FRAME_TOO_LARGE"],
    ["a data frame one byte over the limit is FRAME_TOO_LARGE", () => rawFrame(DATA, MAX_DATA_FRAME + 1), "FRAME_TOO_LARGE"],
    ["a length of 4 GiB - 1 is FRAME_TOO_LARGE without allocating it", () => rawFrame(CONTROL, 0xffffffff), "FRAME_TOO_LARGE"],
    ["an HTTP request instead of a hello is BAD_FRAME", () => new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "BAD_FRAME"],
    ["a data frame first is HELLO_REQUIRED", () => encodeData(new Uint8Array([1, 2, 3])), "HELLO_REQUIRED"],
    ["PING before HELLO is HELLO_REQUIRED", () => encodeMessage({ type: "PING" }), "HELLO_REQUIRED"],
    ["an unknown message type first is HELLO_REQUIRED", () => controlFrame('{"type":"GIMME"}'), "HELLO_REQUIRED"],
    ["JSON that does not parse is BAD_MESSAGE", () => controlFrame('{"type":"HELLO",'), "BAD_MESSAGE"],
    ["a control payload that is not UTF-8 is BAD_MESSAGE", () => rawFrame(CONTROL, 3, new Uint8Array([0xff, 0xfe, 0xfd])), "BAD_MESSAGE"],
    ["JSON nested nine deep is BAD_MESSAGE", () => controlFrame(`{"type":"HELLO","x":${"[".repeat(8)}${"]".repeat(8)}}`), "BAD_MESSAGE"],
    ["a HELLO with an extra field is BAD_MESSAGE", () => controlFrame('{"type":"HELLO","protocol":"sis","version":1,"client":"x","admin":true}'), "BAD_MESSAGE"],
    ["a HELLO for another protocol is BAD_MESSAGE", () => controlFrame('{"type":"HELLO","protocol":"ftp","version":1,"client":"x"}'), "BAD_MESSAGE"],
    ["a HELLO for version 2 is UNSUPPORTED_VERSION", () => helloFrame(2), "UNSUPPORTED_VERSION"],
  ];

  test.each(cases)("%s, the connection is closed and the next client is served", async (_name, bytes, code) => {
    await using client = await rawConnect(port);
    client.write(bytes());
    await expectError(client, code);
    expect(await closedWithin(client)).toBe(true);
    expect(await anonymousHello(port)).toMatchObject({ type: "HELLO", user: null });
  });

  test("UNSUPPORTED_VERSION lists the versions the server speaks", async () => {
    await using client = await rawConnect(port);
    client.write(helloFrame(7));
    const error = await expectError(client, "UNSUPPORTED_VERSION");
    expect(error.message).toContain("1");
    // The versions are a field of the ERROR (P10), not only words in its message.
    expect(error).toMatchObject({ versions: [1] });
  });

  test("a frame header split across many writes is reassembled", async () => {
    await using client = await rawConnect(port);
    for (const byte of helloFrame()) client.write(new Uint8Array([byte]));
    expect(await client.next()).toMatchObject({ type: "HELLO", user: null });
  });

  test("the server's HELLO carries its CA, a storage certificate from that CA and its limits", async () => {
    await using client = await rawConnect(port);
    const hello = await helloAs(client);
    expect(hello).toMatchObject({ protocol: "sis", version: 1, user: null, serial: null, limits: { maxControlFrame: MAX_CONTROL_FRAME, maxDataFrame: MAX_DATA_FRAME } });
    expect(Buffer.from(fromBase64(hello.caCertificate)).equals(Buffer.from(server.context.ca.certDer))).toBe(true);
    const storage = certInfo(fromBase64(hello.storageCertificate));
    expect(storage.issuer).toBe(certInfo(server.context.ca.certDer).subject);
  });

  test("a second HELLO on a connection is BAD_MESSAGE and closes it", async () => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(helloFrame());
    await expectError(client, "BAD_MESSAGE");
    expect(await closedWithin(client)).toBe(true);
  });

  test("an unknown message after HELLO is UNKNOWN_MESSAGE and closes the connection", async () => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(controlFrame('{"type":"DELETE_EVERYTHING"}'));
    await expectError(client, "UNKNOWN_MESSAGE");
    expect(await closedWithin(client)).toBe(true);
  });

  test("a data frame nothing announced is BAD_UPLOAD and closes the connection", async () => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeData(new Uint8Array(16)));
    await expectError(client, "BAD_UPLOAD");
    expect(await closedWithin(client)).toBe(true);
  });
});

describe("startServer() anonymous connections (P5)", () => {
  const needAuth: [string, string][] = [
    ["LIST", '{"type":"LIST"}'],
    ["DOWNLOAD", `{"type":"DOWNLOAD","id":"${"0".repeat(32)}"}`],
    ["POST_IMAGE", '{"type":"POST_IMAGE","name":"x.png","contentType":"image/png","size":1,"dataSize":1,"header":"AAAA","signature":"AAAA","wrappedKey":"AAAA"}'],
  ];

  test.each(needAuth)("%s without a certificate is AUTH_REQUIRED and the connection stays usable", async (_type, json) => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(controlFrame(json));
    const error = await expectError(client, "AUTH_REQUIRED");
    expect(error.message).toContain("sis register");
    client.write(encodeMessage({ type: "PING" }));
    expect(await client.next()).toEqual({ type: "PONG" });
  });

  test("GET_CRL without a certificate returns the CA's CRL, signed by the CA", async () => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeMessage({ type: "GET_CRL" }));
    const reply = await client.next();
    if (reply?.type !== "CRL") throw new Error(`expected CRL, got ${JSON.stringify(reply)}`);
    const chunks: Uint8Array[] = [];
    for (let got = 0; got < reply.dataSize; ) {
      const f = await client.frame();
      if (f?.kind !== DATA) throw new Error("expected the CRL's data frames");
      chunks.push(f.payload);
      got += f.payload.length;
    }
    const crl = await verifyCrl(new Uint8Array(Buffer.concat(chunks)), server.context.ca.certDer);
    expect(crl.revokedSerials).toBeInstanceOf(Set);
  });
});

describe("startServer() registration and enrolment (P13–P16)", () => {
  test("a new username gets a certificate for CN=<username> from the server's CA", async () => {
    expect(alice.newUser).toBe(true);
    expect(alice.username).toBe("alice");
    expect(Buffer.from(fromBase64(alice.caCertificate)).equals(Buffer.from(server.context.ca.certDer))).toBe(true);
    const verified = await verifyUserCert({ certDer: fromBase64(alice.certificate), caCertDer: server.context.ca.certDer, expectedUser: "alice" });
    // What verification means: the certificate chains to this CA, is valid now, names alice, and
    // carries the serial and expiry the server reported.
    expect(verified).toEqual({ username: "alice", serial: alice.serial, notAfter: alice.notAfter });
    expect(certInfo(fromBase64(alice.certificate)).serial.replace(/^0+/, "")).toBe(alice.serial.replace(/^0+/, ""));
  });

  test("the issued certificate authenticates its holder over mutual TLS", async () => {
    await using client = await rawConnect(port, { certPem: alice.certPem, keyPem: alice.keyPem });
    expect(await helloAs(client)).toMatchObject({ user: "alice", serial: alice.serial });
    client.write(encodeMessage({ type: "LIST" }));
    expect(await client.next()).toMatchObject({ type: "IMAGES" });
  });

  test("the CSR's subject is ignored: a CSR made for 'mallory' is issued as the registering username", async () => {
    const { csrDer, privateKeyPkcs8 } = await createKeyAndCsr({ username: "mallory", bits: 2048 });
    const reply = await registerRaw(port, "trent", "trent-password-1", Buffer.from(csrDer).toString("base64"));
    if (reply?.type !== "REGISTERED") throw new Error(JSON.stringify(reply));
    expect(certInfo(fromBase64(reply.certificate)).subject).toBe("CN=trent");
    await using client = await rawConnect(port, { certPem: toPem(fromBase64(reply.certificate), "CERTIFICATE"), keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY") });
    expect(await helloAs(client)).toMatchObject({ user: "trent" });
  });

  test("the right password for a known username enrols a second key; both keys authenticate", async () => {
    const second = await registerOk(port, "alice", "alice-password-1");
    expect(second.newUser).toBe(false);
    expect(second.serial).not.toBe(alice.serial);
    for (const cert of [alice, second]) {
      await using client = await rawConnect(port, { certPem: cert.certPem, keyPem: cert.keyPem });
      expect(await helloAs(client)).toMatchObject({ user: "alice", serial: cert.serial });
    }
  });

  test("a wrong password is AUTH_FAILED, closes the connection and issues nothing", async () => {
    const before = (await server.context.store.listCerts("alice")).length;
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeMessage({ type: "REGISTER", username: "alice", password: "not-alices-password", csr: spareCsr }));
    const error = await expectError(client, "AUTH_FAILED");
    expect(error.message).toBe("wrong username or password");
    expect(await closedWithin(client)).toBe(true);
    expect(await server.context.store.listCerts("alice")).toHaveLength(before);
  });

  const badNames: [string, string][] = [
    ["a slash", "al/ice"],
    ["'..'", ".."],
    ["a control character", "al\u0001ice"],
    ["a newline", "alice\nroot"],
    ["upper case", "Alice"],
    ["one character", "a"],
    ["1,000 characters", "a".repeat(1000)],
  ];

  test.each(badNames)("a username with %s is BAD_USERNAME and the server keeps serving", async (_what, username) => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeMessage({ type: "REGISTER", username, password: "good-password-1", csr: spareCsr }));
    await expectError(client, "BAD_USERNAME");
    expect(await anonymousHello(port)).toMatchObject({ type: "HELLO" });
    expect(await server.context.store.findUser(username)).toBeNull();
  });

  test("a password under 8 characters is WEAK_PASSWORD", async () => {
    const reply = await registerRaw(port, "shorty", "1234567", spareCsr);
    expect(reply).toMatchObject({ type: "ERROR", code: "WEAK_PASSWORD" });
    expect(await server.context.store.findUser("shorty")).toBeNull();
  });

  test("a CSR whose signature does not match its key (certs/bad-pop.csr) is BAD_CSR and the connection stays usable", async () => {
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeMessage({ type: "REGISTER", username: "popper", password: "popper-password-1", csr: csrFixtureBase64("bad-pop.csr") }));
    await expectError(client, "BAD_CSR");
    client.write(encodeMessage({ type: "PING" }));
    expect(await client.next()).toEqual({ type: "PONG" });
    expect(await server.context.store.findUser("popper")).toBeNull();
  });

  test("a CSR with a 1024-bit key (certs/weak-1024.csr) is WEAK_KEY", async () => {
    const reply = await registerRaw(port, "weakling", "weakling-password-1", csrFixtureBase64("weak-1024.csr"));
    expect(reply).toMatchObject({ type: "ERROR", code: "WEAK_KEY" });
    expect(await server.context.store.findUser("weakling")).toBeNull();
  });

  test("bytes that are not a CSR are BAD_CSR", async () => {
    const reply = await registerRaw(port, "garbler", "garbler-password-1", Buffer.from("definitely not DER").toString("base64"));
    expect(reply).toMatchObject({ type: "ERROR", code: "BAD_CSR" });
  });
});

describe("startServer() login back-off (P17, P18)", () => {
  test("after three wrong passwords the username is THROTTLED with retryAfter, even with the right password, without running argon2id", async () => {
    await registerOk(port, "victim", "victim-password-1");
    for (let i = 0; i < 3; i++) {
      expect(await registerRaw(port, "victim", `wrong-password-${i}`, spareCsr)).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    }
    const failedBefore = server.context.metrics.loginsFailed;
    await using client = await rawConnect(port);
    await helloAs(client);
    client.write(encodeMessage({ type: "REGISTER", username: "victim", password: "victim-password-1", csr: spareCsr }));
    const error = await expectError(client, "THROTTLED");
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error.retryAfter).toBeLessThanOrEqual(900);
    expect(await closedWithin(client)).toBe(true);
    expect(server.context.metrics.loginsFailed).toBe(failedBefore);
    expect(await server.context.store.listCerts("victim")).toHaveLength(1);
  }, 30_000);

  test("a success clears the username's failures", async () => {
    await registerOk(port, "forgetful", "forgetful-password-1");
    const wrong = () => registerRaw(port, "forgetful", "not-the-password", spareCsr);
    expect(await wrong()).toMatchObject({ code: "AUTH_FAILED" });
    expect(await wrong()).toMatchObject({ code: "AUTH_FAILED" });
    await registerOk(port, "forgetful", "forgetful-password-1");
    expect(await wrong()).toMatchObject({ code: "AUTH_FAILED" });
    // Without the reset this third consecutive failure would have throttled the next attempt.
    expect((await registerOk(port, "forgetful", "forgetful-password-1")).newUser).toBe(false);
  }, 30_000);
});

describe("startServer() LIST pages (D5)", () => {
  // Rows committed straight to the server's SQLite store (no blobs: LIST reads only metadata).
  let seqs: number[] = [];
  beforeAll(async () => {
    const owner = (await server.context.store.findUser("alice"))!;
    for (const name of ["one.png", "two.png", "three.png"]) {
      seqs.push((await server.context.store.insertImage({
        id: randomBytes(16).toString("hex"), ownerId: owner.id, owner: "alice", name, contentType: "image/png", size: 10, cipherSize: 26,
        header: new Uint8Array(40), signature: new Uint8Array(300), wrappedKey: new Uint8Array(256), signerSerial: alice.serial,
      })).seq);
    }
  });

  async function list(message: Record<string, unknown>): Promise<{ seqs: number[]; next: number | null }> {
    await using client = await rawConnect(port, { certPem: alice.certPem, keyPem: alice.keyPem });
    await helloAs(client);
    client.write(encodeMessage({ type: "LIST", ...message } as Parameters<typeof encodeMessage>[0]));
    const reply = await client.next();
    if (reply?.type !== "IMAGES") throw new Error(`expected IMAGES, got ${JSON.stringify(reply)}`);
    return { seqs: reply.images.map((i) => i.seq), next: reply.next };
  }

  test("a page that holds exactly the images left has next null: no empty page follows (D5)", async () => {
    expect(await list({ after: 0, limit: 3 })).toEqual({ seqs, next: null });
  });

  test("catch-up starts at after 0 and follows next, oldest first, until next is null (D5)", async () => {
    const first = await list({ after: 0, limit: 2 });
    expect(first).toEqual({ seqs: seqs.slice(0, 2), next: seqs[1]! });
    expect(await list({ after: first.next, limit: 2 })).toEqual({ seqs: seqs.slice(2), next: null });
  });

  test("LIST without a cursor is newest first, and before pages on towards older images (D5)", async () => {
    const first = await list({ limit: 2 });
    expect(first).toEqual({ seqs: [seqs[2]!, seqs[1]!], next: seqs[1]! });
    expect(await list({ before: first.next, limit: 2 })).toEqual({ seqs: [seqs[0]!], next: null });
  });
});

describe("startServer() presented certificates (P4, P5)", () => {
  test("a certificate from a foreign CA (certs/foreign-alice.pem) is CERT_UNKNOWN even though it says CN=alice", async () => {
    await using client = await rawConnect(port, { certPem: certFile("foreign-alice.pem"), keyPem: certFile("foreign-alice.key") });
    client.write(helloFrame());
    const error = await expectError(client, "CERT_UNKNOWN");
    expect(error.message).toContain("sis register");
    expect(await closedWithin(client)).toBe(true);
  });

  test("a certificate revoked while the server runs is CERT_REVOKED at the next connection", async () => {
    const bob = await registerOk(port, "bob", "bob-password-1");
    {
      await using client = await rawConnect(port, { certPem: bob.certPem, keyPem: bob.keyPem });
      expect(await helloAs(client)).toMatchObject({ user: "bob" });
    }
    expect(await server.context.store.revokeSerial(bob.serial, Date.now())).toBe(true);
    await using client = await rawConnect(port, { certPem: bob.certPem, keyPem: bob.keyPem });
    client.write(helloFrame());
    await expectError(client, "CERT_REVOKED");
    expect(await closedWithin(client)).toBe(true);
  });

  test("a recorded certificate past its validity is CERT_EXPIRED", async () => {
    const user = await server.context.store.createUser("oldtimer", "$argon2id$unused");
    const { csrDer, privateKeyPkcs8 } = await createKeyAndCsr({ username: "oldtimer", bits: 2048 });
    const old = await server.context.ca.issueUserCert({ csrDer, username: "oldtimer", lifetimeDays: 1, now: new Date(Date.now() - 30 * 86_400_000) });
    await server.context.store.addCert({ serial: old.serial, userId: user.id, der: old.der, notBefore: old.notBefore, notAfter: old.notAfter });
    await using client = await rawConnect(port, { certPem: old.pem, keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY") });
    client.write(helloFrame());
    await expectError(client, "CERT_EXPIRED");
  });
});

describe("startServer() limits per address", () => {
  let limited: RunningServer & { dir: string };
  beforeAll(async () => {
    limited = await boot({ maxConnectionsPerAddress: 2 });
  }, 60_000);
  afterAll(() => shutdown(limited), 30_000);

  test("ten failed logins from one address throttle a username that never failed", async () => {
    const users = ["ua", "ub", "uc", "ud"];
    for (const u of users) await registerOk(limited.port, u, `${u}-password-1`);
    // 3 + 3 + 3 + 1 failures: no username reaches its own limit before the address does.
    for (const [u, n] of [["ua", 3], ["ub", 3], ["uc", 3], ["ud", 1]] as const) {
      for (let i = 0; i < n; i++) expect(await registerRaw(limited.port, u, "wrong-password", spareCsr)).toMatchObject({ code: "AUTH_FAILED" });
    }
    const reply = await registerRaw(limited.port, "newcomer", "newcomer-password-1", spareCsr);
    expect(reply).toMatchObject({ type: "ERROR", code: "THROTTLED" });
    expect(await limited.context.store.findUser("newcomer")).toBeNull();
  }, 60_000);

  test("a connection over the per-address limit is TOO_MANY_CONNECTIONS; closing one makes room", async () => {
    const open = () => limited.context.metrics.connections;
    await until(() => open() === 0, "earlier connections to close");
    const a = await rawConnect(limited.port);
    const b = await rawConnect(limited.port);
    try {
      await helloAs(a);
      await helloAs(b);
      {
        await using c = await rawConnect(limited.port);
        await expectError(c, "TOO_MANY_CONNECTIONS");
        expect(await closedWithin(c)).toBe(true);
      }
      a.close();
      await until(() => open() === 1, "the server to see the closed connection");
      await using d = await rawConnect(limited.port);
      expect(await helloAs(d)).toMatchObject({ user: null });
    } finally {
      a.close();
      b.close();
    }
  }, 30_000);
});
