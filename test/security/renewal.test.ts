/** SECURITY.md, renewal: hostile RENEW requests against a real server on 127.0.0.1 (RN1–RN4). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { certInfo } from "../../src/pki/index.ts";
import { encodeMessage, fromBase64, toBase64 } from "../../src/protocol/index.ts";
import { csrFixtureBase64, freshCsr } from "../support/auth-kit.ts";
import { expectRefusal, rawHello, sandboxForFile, type Sandbox, type User } from "../support/security-kit.ts";

let sb: Sandbox;
let carol: User;
let dan: User;
sandboxForFile(["carol", "dan"], (box, [carol_, dan_]) => {
  sb = box;
  carol = carol_;
  dan = dan_;
});

async function renewAs(user: User | undefined, csr: string) {
  const { client } = await rawHello(sb, user);
  client.write(encodeMessage({ type: "RENEW", csr }));
  return client;
}

describe("renewal", () => {
  test("RENEW without a certificate", async () => {
    const client = await renewAs(undefined, (await freshCsr("carol")).csr);
    await expectRefusal(client, "AUTH_REQUIRED", false);
    client.close();
  });

  test("RENEW with a CSR that is not DER", async () => {
    const client = await renewAs(carol, toBase64(new TextEncoder().encode("not a CSR")));
    await expectRefusal(client, "BAD_CSR", false);
    client.close();
  });

  test("RENEW with a CSR whose signature does not verify", async () => {
    const client = await renewAs(carol, csrFixtureBase64("bad-pop.csr"));
    await expectRefusal(client, "BAD_CSR", false);
    client.close();
  });

  test("RENEW with a weak 1024-bit key", async () => {
    const client = await renewAs(carol, csrFixtureBase64("weak-1024.csr"));
    await expectRefusal(client, "WEAK_KEY", false);
    client.close();
  });

  test("RENEW with a CSR whose subject names another user", async () => {
    const client = await renewAs(carol, (await freshCsr("mallory")).csr);
    const reply = await client.next();
    client.close();
    if (reply?.type !== "RENEWED") throw new Error(`expected RENEWED, got ${JSON.stringify(reply)?.slice(0, 300)}`);
    expect(reply.username).toBe("carol");
    const info = certInfo(fromBase64(reply.certificate));
    expect({ cn: info.subjectCn, serial: info.serial }).toEqual({ cn: "carol", serial: reply.serial });
    // RN4: the presented certificate is not revoked by the renewal.
    expect((await sb.server.context.store.findCert(carol.creds.profile.serial))?.revokedAt).toBeNull();
  });

  test("RENEW on a session whose certificate was revoked after its HELLO", async () => {
    const { client } = await rawHello(sb, dan);
    expect(await sb.server.context.store.revokeSerial(dan.creds.profile.serial, Date.now())).toBe(true);
    client.write(encodeMessage({ type: "RENEW", csr: (await freshCsr("dan")).csr }));
    await expectRefusal(client, "CERT_REVOKED", true);
  });
});
