/** SECURITY.md, membership: invitation guessing and replay, a disabled user's open session, PASSWD without a certificate (M4–M15), against a real server on 127.0.0.1. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { mintInvitation } from "../../src/app/invitations.ts";
import { register } from "../../src/client/register.ts";
import { Home } from "../../src/client/home.ts";
import { encodeMessage, parseInvitation } from "../../src/protocol/index.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { freshCsr } from "../support/auth-kit.ts";
import { expectRefusal, expectStillServing, raw, rawHello, startSandbox, type Sandbox, type User } from "../support/security-kit.ts";

setDefaultTimeout(30_000);

let sb: Sandbox;
let carol: User;

/** A new invitation's secret, made in another handle on the database as `sis admin invite` does. */
async function secret(username: string | null = null, ttlMs = 3_600_000): Promise<string> {
  const other = SqliteStore.open(join(sb.root, "data", DATA_FILES.database));
  try {
    const minted = await mintInvitation(other, { address: `127.0.0.1:${sb.port}`, fingerprint: sb.server.caFingerprint, username, ttlMs });
    return parseInvitation(minted.text)!.secret;
  } finally {
    await other.close();
  }
}

async function sendRegister(username: string, extra: Record<string, unknown>) {
  const { client } = await rawHello(sb);
  client.write(encodeMessage({ type: "REGISTER", username, password: `${username}-password-1`, csr: (await freshCsr(username)).csr, ...extra } as never));
  return client;
}

async function userExists(name: string): Promise<boolean> {
  return (await sb.server.context.store.findUser(name)) !== null;
}

beforeAll(async () => {
  sb = await startSandbox({ revocationCheckMs: 200 }, { openRegistration: false });
  const home = new Home(join(sb.root, "homes", "carol"));
  await register({ home, server: `127.0.0.1:${sb.port}`, username: "carol", password: "carol-password-1", caFingerprint: sb.server.caFingerprint, invitation: await secret(), keyBits: 2048 });
  carol = { name: "carol", password: "carol-password-1", home, creds: await home.credentials() };
}, 60_000);
afterAll(() => sb[Symbol.asyncDispose](), 30_000);

describe("membership", () => {
  test("an unknown username without an invitation", async () => {
    const client = await sendRegister("mallory", {});
    const reply = await expectRefusal(client, "AUTH_FAILED", true);
    expect(reply.message).toBe("wrong username or password");
    expect(await userExists("mallory")).toBe(false);
    await expectStillServing(sb, carol);
  });

  test("a guessed invitation secret", async () => {
    const client = await sendRegister("mallory", { invitation: randomBytes(32).toString("base64url") });
    await expectRefusal(client, "INVITE_UNKNOWN", true);
    expect(await userExists("mallory")).toBe(false);
  });

  test("a replayed invitation (the captured REGISTER sent again)", async () => {
    const s = await secret();
    const first = await sendRegister("nina", { invitation: s });
    expect((await first.next())?.type).toBe("REGISTERED");
    first.close();
    const again = await sendRegister("nina-2", { invitation: s });
    await expectRefusal(again, "INVITE_USED", true);
    expect(await userExists("nina-2")).toBe(false);
  });

  test("two registrations racing with one invitation", async () => {
    const s = await secret();
    const clients = await Promise.all(["otto", "paula"].map((name) => sendRegister(name, { invitation: s })));
    const replies = await Promise.all(clients.map((c) => c.next()));
    for (const c of clients) c.close();
    const types = replies.map((r) => (r?.type === "ERROR" ? r.code : r?.type)).sort();
    expect(types).toEqual(["INVITE_USED", "REGISTERED"]);
    expect([await userExists("otto"), await userExists("paula")].filter(Boolean)).toHaveLength(1);
  });

  test("an invitation for another name, and an expired one", async () => {
    const named = await sendRegister("quinn", { invitation: await secret("rosa") });
    await expectRefusal(named, "INVITE_WRONG_USER", true);
    const expired = await sendRegister("quinn", { invitation: await secret(null, -1) });
    await expectRefusal(expired, "INVITE_EXPIRED", true);
    expect(await userExists("quinn")).toBe(false);
  });

  test("an invitation field that is not 43 base64url characters", async () => {
    const client = await sendRegister("sam", { invitation: "x".repeat(44) });
    await expectRefusal(client, "BAD_MESSAGE", true);
  });

  test("PASSWD on an anonymous connection", async () => {
    const { client } = await rawHello(sb);
    client.write(encodeMessage({ type: "PASSWD", password: "whatever-1", newPassword: "whatever-2" }));
    await expectRefusal(client, "AUTH_REQUIRED", false);
    client.close();
  });

  test("a disabled user's open idle session", async () => {
    const { client } = await rawHello(sb, carol);
    const other = SqliteStore.open(join(sb.root, "data", DATA_FILES.database));
    try {
      expect(await other.setUserDisabled("carol", true, Date.now())).toBe(true);
    } finally {
      await other.close();
    }
    const reply = await expectRefusal(client, "ACCOUNT_DISABLED", true);
    expect(reply.message).toContain("disabled");
    // Refused at the HELLO of a new connection too.
    const fresh = await raw(sb, carol);
    expect(await fresh.hello()).toMatchObject({ type: "ERROR", code: "ACCOUNT_DISABLED" });
    fresh.close();
    await sb.server.context.store.setUserDisabled("carol", false, Date.now());
    await expectStillServing(sb, carol);
  });
});
