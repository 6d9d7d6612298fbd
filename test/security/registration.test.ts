/** SECURITY.md, registration: hostile REGISTER requests against a real server on 127.0.0.1 (P13–P18). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { certInfo, createKeyAndCsr, MAX_CSR_BYTES } from "../../src/pki/index.ts";
import { encodeMessage, fromBase64, toBase64, type ServerMessage } from "../../src/protocol/index.ts";
import { csrFixtureBase64, freshCsr } from "../support/auth-kit.ts";
import { expectRefusal, expectStillServing, rawHello, registerUser, sandboxForFile, type Sandbox, type User } from "../support/security-kit.ts";
import { HOSTILE_USERNAMES } from "../support/hostile-names.ts";

// Every failed login also counts against 127.0.0.1 (10 throttle the address, P17): this file makes 5.
let sb: Sandbox;
let carol: User;
/** A valid CSR for requests that must fail before or regardless of it. */
let spareCsr: string;
sandboxForFile(["carol"], async (box, [carol_]) => {
  sb = box;
  carol = carol_;
  spareCsr = (await freshCsr("spare")).csr;
});

type Register = { type: "REGISTER"; username: string; password: string; csr: string };

/** Sends one REGISTER on a fresh anonymous connection and returns the client for the verdict. */
async function sendRegister(message: Register | Uint8Array) {
  const { client } = await rawHello(sb);
  client.write(message instanceof Uint8Array ? message : encodeMessage(message));
  return client;
}

async function refused(message: Register, code: string, fatal: boolean) {
  const client = await sendRegister(message);
  const reply = await expectRefusal(client, code, fatal);
  client.close();
  await expectStillServing(sb, carol);
  return reply;
}

async function registered(message: Register | Uint8Array): Promise<Extract<ServerMessage, { type: "REGISTERED" }>> {
  const client = await sendRegister(message);
  const reply = await client.next();
  client.close();
  if (reply?.type !== "REGISTERED") throw new Error(`expected REGISTERED, got ${JSON.stringify(reply)?.slice(0, 300)}`);
  return reply;
}

function spkiOf(pkcs8: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

describe("registration", () => {
  test("a CSR that is not DER", async () => {
    await refused({ type: "REGISTER", username: "ivan", password: "ivan-password-1", csr: toBase64(new TextEncoder().encode("-----BEGIN CERTIFICATE REQUEST-----")) }, "BAD_CSR", false);
  });

  test("a CSR whose signature does not verify", async () => {
    // certs/bad-pop.csr: made by OpenSSL, last signature byte flipped; the proof of possession fails.
    await refused({ type: "REGISTER", username: "ivan", password: "ivan-password-1", csr: csrFixtureBase64("bad-pop.csr") }, "BAD_CSR", false);
  });

  test("a CSR carrying another key than the one that signed it", async () => {
    // Someone else's public key put into our signed request: a certificate for a key the requester does not hold.
    const mine = await createKeyAndCsr({ username: "ivan", bits: 2048 });
    const theirs = await createKeyAndCsr({ username: "ivan", bits: 2048 });
    const [a, b] = [spkiOf(mine.privateKeyPkcs8), spkiOf(theirs.privateKeyPkcs8)];
    const at = Buffer.from(mine.csrDer).indexOf(Buffer.from(a));
    expect(at).toBeGreaterThan(0);
    expect(b.length).toBe(a.length);
    const swapped = new Uint8Array(mine.csrDer);
    swapped.set(b, at);
    await refused({ type: "REGISTER", username: "ivan", password: "ivan-password-1", csr: toBase64(swapped) }, "BAD_CSR", false);
  });

  test("a CSR with a weak 1024-bit key", async () => {
    await refused({ type: "REGISTER", username: "ivan", password: "ivan-password-1", csr: csrFixtureBase64("weak-1024.csr") }, "WEAK_KEY", false);
  });

  test("an oversized CSR", async () => {
    // Over MAX_CSR_BYTES of DER but inside the message's base64 bound: refused by size before parsing.
    const big = new Uint8Array(MAX_CSR_BYTES + 1).fill(0x30);
    await refused({ type: "REGISTER", username: "ivan", password: "ivan-password-1", csr: toBase64(big) }, "BAD_CSR", false);
  });

  test("a CSR whose subject names another user", async () => {
    // The CSR says CN=carol; the certificate names the username requested, never the CSR's subject (P14).
    const { csrDer } = await createKeyAndCsr({ username: "carol", bits: 2048 });
    const reply = await registered({ type: "REGISTER", username: "judy", password: "judy-password-1", csr: toBase64(csrDer) });
    expect(reply.username).toBe("judy");
    expect(certInfo(fromBase64(reply.certificate)).subjectCn).toBe("judy");
    await expectStillServing(sb, carol);
  });

  test("an existing username with a wrong password", async () => {
    const reply = await refused({ type: "REGISTER", username: "carol", password: "not-carols-password", csr: spareCsr }, "AUTH_FAILED", true);
    expect(reply.message).toBe("wrong username or password");
  });

  test("an existing username with an empty password", async () => {
    await refused({ type: "REGISTER", username: "carol", password: "", csr: spareCsr }, "WEAK_PASSWORD", false);
  });

  test("repeated wrong passwords for one username", async () => {
    await registerUser(sb, "kate");
    for (let i = 0; i < 3; i++) await refused({ type: "REGISTER", username: "kate", password: `guess-number-${i}`, csr: spareCsr }, "AUTH_FAILED", true);
    const reply = await refused({ type: "REGISTER", username: "kate", password: "guess-number-3", csr: spareCsr }, "THROTTLED", true);
    expect(reply.retryAfter).toBeGreaterThanOrEqual(1);
    // While throttled even the right password is refused the same way: the throttle is no oracle.
    const right = await refused({ type: "REGISTER", username: "kate", password: "kate-password-1", csr: spareCsr }, "THROTTLED", true);
    expect(right.message).toBe(reply.message.replace(/\d+ s/, `${right.retryAfter} s`));
  });

  test("replaying a captured registration", async () => {
    // What an attacker could capture if TLS did not hide it: the exact REGISTER bytes. Replayed, they
    // only enrol another certificate for the same key, which the attacker does not hold; and the
    // replay works only because it carries the password (P15).
    const { csr } = await freshCsr("liam");
    const frame = encodeMessage({ type: "REGISTER", username: "liam", password: "liam-password-1", csr });
    const first = await registered(frame);
    const again = await registered(frame);
    expect(first.newUser).toBe(true);
    expect(again.newUser).toBe(false);
    expect(again.serial).not.toBe(first.serial);
    await expectStillServing(sb, carol);
  });

  test("replaying a captured registration with a wrong password", async () => {
    const { csr } = await freshCsr("mona");
    await registered({ type: "REGISTER", username: "mona", password: "mona-password-1", csr });
    const reply = await refused({ type: "REGISTER", username: "mona", password: "mona-password-2", csr }, "AUTH_FAILED", true);
    expect(reply.message).toBe("wrong username or password");
  });

  test("the same password typed composed and decomposed", async () => {
    // macOS input methods send "é" as e + U+0301 (NFD), others as U+00E9 (NFC): the server hashes the
    // UTF-8 of the NFC form (P13), so either spelling of the same password logs in.
    const composed = "caf\u00e9-password";
    const decomposed = "cafe\u0301-password";
    expect(composed).not.toBe(decomposed);
    const first = await registered({ type: "REGISTER", username: "nadia", password: decomposed, csr: (await freshCsr("nadia")).csr });
    expect(first.newUser).toBe(true);
    const again = await registered({ type: "REGISTER", username: "nadia", password: composed, csr: (await freshCsr("nadia")).csr });
    expect(again.newUser).toBe(false);
    await expectStillServing(sb, carol);
  });

  test("hostile usernames", async () => {
    const { client } = await rawHello(sb);
    for (const username of HOSTILE_USERNAMES) {
      client.write(encodeMessage({ type: "REGISTER", username, password: "some-password-1", csr: spareCsr }));
      await expectRefusal(client, "BAD_USERNAME", false);
    }
    client.close();
    expect((await sb.server.context.store.findUser("carol"))?.username).toBe("carol");
    await expectStillServing(sb, carol);
  });

  test("the name of a deleted user", async () => {
    // A deleted user's name stays reserved: nobody inherits that identity or its images' authorship.
    await registerUser(sb, "nina");
    expect(await sb.server.context.store.deleteUser("nina")).toBe(true);
    await refused({ type: "REGISTER", username: "nina", password: "another-password-1", csr: spareCsr }, "BAD_USERNAME", false);
  });
});
