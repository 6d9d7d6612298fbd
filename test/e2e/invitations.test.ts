/** Invitations end to end (M1–M8): an invitation-only `sis serve`, `sis admin invite` beside it, `sis register --invite`. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { dirsForFile } from "../support/sandbox.ts";
import { register, registerInvited, sis, startServe, type ServerProcess } from "../support/cli.ts";
import { expectRun, until } from "../support/auth-kit.ts";

setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, home } = dirsForFile("sis-e2e-invite", () => server);
/** Every invitation this file saw; none may appear in the server's output (M3). */
const secrets: string[] = [];

async function invite(args: string[] = []): Promise<string> {
  const r = await sis(["admin", "invite", "--data", data, ...args]);
  expectRun(r, { code: 0, stdout: /^sis1:127\.0\.0\.1:\d+:[0-9a-f]{64}:[A-Za-z0-9_-]{43}\n$/ });
  const text = r.stdout.trim();
  secrets.push(text.split(":").pop()!);
  return text;
}

async function userNames(): Promise<string[]> {
  const r = await sis(["admin", "users", "--data", data, "--json"]);
  expectRun(r, { code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as { user: string }[]).map((u) => u.user);
}

async function certCount(): Promise<number> {
  const r = await sis(["admin", "certs", "--data", data, "--json"]);
  expectRun(r, { code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as unknown[]).length;
}

beforeAll(async () => {
  server = await startServe(data, [], { invitations: true });
}, 90_000);


describe("M6: registration is invitation-only by default", () => {
  test("a new name with a password alone is refused, and nothing is created", async () => {
    const r = await register(server, "mallory", home("mallory"));
    expectRun(r, { code: 1, stdout: "", stderr: "sis: cannot register: wrong username or password (AUTH_FAILED)\n" });
    expect(await userNames()).toEqual([]);
    expect(await certCount()).toBe(0);
    expect(existsSync(join(home("mallory"), "cert.pem"))).toBe(false);
  });
});

describe("M7: the first start prints an invitation for the first user", () => {
  test("it works with sis register --invite - and no --server or --ca-fingerprint, and pins the server's CA", async () => {
    expect(server.invitation).toMatch(/^sis1:127\.0\.0\.1:\d+:[0-9a-f]{64}:[A-Za-z0-9_-]{43}$/);
    secrets.unshift(server.invitation!.split(":").pop()!);
    expect(server.output()).toMatch(/^the first user registers with: sis register --invite - --user NAME/m);
    const r = await registerInvited(server.invitation!, "alice", home("alice"));
    expectRun(r, { code: 0, stderr: "", stdout: /^registered alice at 127\.0\.0\.1:\d+\n/ });
    expect(r.stdout).toContain(`pinned CA ${server.fingerprint}\n`);
    const who = await sis(["whoami", "--home", home("alice"), "--json"]);
    expect(JSON.parse(who.stdout)).toMatchObject({ user: "alice" });
    expect(readFileSync(join(home("alice"), "ca.pem"), "utf8")).toBe(readFileSync(join(data, "ca.pem"), "utf8"));
    expectRun(await sis(["list", "--home", home("alice")]), { code: 0, stderr: "" });
    expect(await userNames()).toEqual(["alice"]);
  });

  test("used once, it is refused the second time with INVITE_USED, and nothing is created", async () => {
    const certs = await certCount();
    const r = await registerInvited(server.invitation!, "bob", home("bob-again"));
    expectRun(r, { code: 1, stdout: "", stderr: /^sis: cannot register: this invitation has been used already.*\(INVITE_USED\)\n$/ });
    expect(await userNames()).toEqual(["alice"]);
    expect(await certCount()).toBe(certs);
  });
});

describe("M1–M5: sis admin invite while the server runs", () => {
  test("an invitation for a name registers that name once; another name is refused with INVITE_WRONG_USER and it stays usable", async () => {
    const text = await invite(["--user", "dave"]);
    expectRun(await registerInvited(text, "eve", home("eve")), { code: 1, stdout: "", stderr: /\(INVITE_WRONG_USER\)\n$/ });
    expect(await userNames()).toEqual(["alice"]);
    expectRun(await registerInvited(text, "dave", home("dave")), { code: 0, stderr: "" });
    expectRun(await registerInvited(text, "dave", home("dave-2")), { code: 1, stderr: /\(INVITE_USED\)\n$/ });
    expect(await userNames()).toEqual(["alice", "dave"]);
  });

  test("an invitation made for a name registers it without --user (M4); one for any name without --user is refused and stays usable", async () => {
    const named = await invite(["--user", "lena"]);
    const r = await sis(["register", "--invite", "-", "--home", home("lena"), "--password-stdin", "--key-bits", "2048"], { stdin: `${named}\nlena-password-1\n` });
    expectRun(r, { code: 0, stderr: "", stdout: /^registered lena at 127\.0\.0\.1:\d+\n/ });
    const who = await sis(["whoami", "--home", home("lena"), "--json"]);
    expect(JSON.parse(who.stdout)).toMatchObject({ user: "lena" });
    expectRun(await sis(["list", "--home", home("lena")]), { code: 0, stderr: "" });
    const any = await invite();
    const refused = await sis(["register", "--invite", "-", "--home", home("nameless"), "--password-stdin", "--key-bits", "2048"], { stdin: `${any}\nsome-password-1\n` });
    expectRun(refused, { code: 1, stdout: "", stderr: /^sis: cannot register: this invitation is for a name of your choosing: give it with --user NAME .*\(BAD_USERNAME\)\n$/ });
    expect(existsSync(join(home("nameless"), "cert.pem"))).toBe(false);
    expect(await userNames()).toEqual(["alice", "dave", "lena"]);
    expectRun(await registerInvited(any, "mona", home("mona")), { code: 0, stderr: "" });
    expect(await userNames()).toEqual(["alice", "dave", "lena", "mona"]);
  });

  test("an invitation past its expiry is refused with INVITE_EXPIRED, and nothing is created", async () => {
    const text = await invite(["--expires", "1s"]);
    const pending = async () => (JSON.parse((await sis(["admin", "invitations", "--data", data, "--json"])).stdout) as unknown[]).length;
    // Expired invitations are not pending: wait for the list to drop it (no fixed sleep).
    const before = await pending();
    await until(async () => (await pending()) < before, "the 1 s invitation to expire", 10_000);
    const r = await registerInvited(text, "frank", home("frank"));
    expectRun(r, { code: 1, stdout: "", stderr: /^sis: cannot register: this invitation has expired.*\(INVITE_EXPIRED\)\n$/ });
    expect(await userNames()).toEqual(["alice", "dave", "lena", "mona"]);
  });

  test("an unknown secret (a right server and CA, a made-up secret) is refused with INVITE_UNKNOWN", async () => {
    const real = await invite();
    const forged = real.replace(/[^:]+$/, randomBytes(32).toString("base64url"));
    secrets.push(forged.split(":").pop()!);
    expectRun(await registerInvited(forged, "gina", home("gina")), { code: 1, stderr: /\(INVITE_UNKNOWN\)\n$/ });
    expect(await userNames()).toEqual(["alice", "dave", "lena", "mona"]);
  });

  test("sis admin invitations lists pending ones; --revoke makes one unknown", async () => {
    const text = await invite(["--user", "hana"]);
    const list = JSON.parse((await sis(["admin", "invitations", "--data", data, "--json"])).stdout) as { id: string; user: string | null }[];
    const mine = list.find((i) => i.user === "hana");
    expect(mine).toBeDefined();
    const table = await sis(["admin", "invitations", "--data", data]);
    expectRun(table, { code: 0, stderr: "", stdout: new RegExp(`^ID +USER +CREATED +EXPIRES\\n(.*\\n)*${mine!.id} +hana `) });
    expectRun(await sis(["admin", "invitations", "--data", data, "--revoke", mine!.id]), { code: 0, stderr: "", stdout: `revoked invitation ${mine!.id}\n` });
    const after = JSON.parse((await sis(["admin", "invitations", "--data", data, "--json"])).stdout) as { id: string }[];
    expect(after.map((i) => i.id)).not.toContain(mine!.id);
    expectRun(await registerInvited(text, "hana", home("hana")), { code: 1, stderr: /\(INVITE_UNKNOWN\)\n$/ });
    expect(await userNames()).toEqual(["alice", "dave", "lena", "mona"]);
  });

  test("the invitation can come from SIS_INVITE instead of the command line", async () => {
    const text = await invite();
    const r = await sis(["register", "--user", "ivan", "--home", home("ivan"), "--password-stdin", "--key-bits", "2048"], { stdin: "ivan-password-1\n", env: { SIS_INVITE: text } });
    expectRun(r, { code: 0, stderr: "", stdout: /^registered ivan at / });
  });

  test("a name that exists already is refused and the invitation stays unused", async () => {
    const text = await invite();
    expectRun(await registerInvited(text, "alice", home("alice-2")), { code: 1, stderr: /the username alice is taken.*\(BAD_USERNAME\)\n$/ });
    expectRun(await registerInvited(text, "judy", home("judy")), { code: 0, stderr: "" });
  });

  test("an existing user still enrols another device with the password (no invitation)", async () => {
    expectRun(await register(server, "alice", home("alice-phone")), { code: 0, stderr: "", stdout: /^enrolled a new key for alice/ });
  });

  test("something that is not an invitation is a usage error that does not echo it", async () => {
    const r = await sis(["register", "--invite", "-", "--user", "kim", "--home", home("kim"), "--password-stdin"], { stdin: "sis1:nonsense-SECRETISH\npw-password-1\n" });
    expectRun(r, { code: 2, stdout: "" });
    expect(r.stderr).not.toContain("SECRETISH");
  });
});

describe("M3: the secret never appears in the server's logs", () => {
  test("the server's whole output holds the first invitation once (its start-up line) and no other secret", () => {
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const out = server.output();
    for (const secret of secrets) expect({ secret, occurrences: out.split(secret).length - 1 }).toEqual({ secret, occurrences: secret === secrets[0] ? 1 : 0 });
    expect(out).toMatch(/invitation refused .*code="INVITE_USED"/);
  });
});
