/** Accounts end to end (M10–M15): admin users, disable/enable while `sis serve` runs, delete --images, sis passwd, the throttle that spares devices. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { dirsForFile } from "../support/sandbox.ts";
import { register, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { expectRun, until } from "../support/auth-kit.ts";
import { SAMPLE } from "../support/share.ts";

setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, homes, home } = dirsForFile("sis-e2e-accounts", () => server);

interface UserRow {
  user: string;
  created: string;
  certificates: number;
  state: string;
  images: number;
  bytes: number;
  lastSeen: string | null;
}

async function usersJson(): Promise<Record<string, UserRow>> {
  const r = await sis(["admin", "users", "--data", data, "--json"]);
  expectRun(r, { code: 0, stderr: "" });
  return Object.fromEntries((JSON.parse(r.stdout) as UserRow[]).map((u) => [u.user, u]));
}

function post(who: string, file: string, name: string) {
  return sis(["post", file, "--name", name, "--home", home(who), "--quiet"]);
}

function blobFiles(): string[] {
  return readdirSync(join(data, "blobs")).filter((f) => /^[0-9a-f]{32}$/.test(f));
}

beforeAll(async () => {
  server = await startServe(data, ["--revocation-check", "1"]);
  for (const u of ["alice", "bob", "carol"]) expectRun(await register(server, u, home(u)), { code: 0, stderr: "" });
}, 90_000);

describe("M11, M12: sis admin users", () => {
  test("lists name, created, certificates, state, images, bytes stored and last seen", async () => {
    expectRun(await post("alice", SAMPLE.png, "first.png"), { code: 0 });
    const users = await usersJson();
    expect(Object.keys(users)).toEqual(["alice", "bob", "carol"]);
    expect(users.alice).toMatchObject({ certificates: 1, state: "active", images: 1 });
    expect(users.alice!.bytes).toBeGreaterThan(0);
    expect(users.bob).toMatchObject({ images: 0, bytes: 0, lastSeen: null });
    // alice's post connected: last seen is recorded at HELLO.
    expect(Date.parse(users.alice!.lastSeen!)).toBeGreaterThan(Date.parse(users.alice!.created));
    const table = await sis(["admin", "users", "--data", data]);
    expectRun(table, { code: 0, stderr: "", stdout: /^USER +CREATED +CERTS +STATE +IMAGES +STORED +LAST SEEN\nalice .* active +1 +[\d.]+ (B|KiB) +20\d\d-/ });
  });
});

describe("M10: sis admin disable while the server runs", () => {
  test("bob's running watch ends with exit 3 saying the account is disabled; carol's goes on and gets what is posted after", async () => {
    const bobOut = join(homes, "bob-out");
    const carolOut = join(homes, "carol-out");
    mkdirSync(bobOut, { recursive: true });
    mkdirSync(carolOut, { recursive: true });
    await using bobWatch = startWatch(home("bob"), bobOut);
    await using carolWatch = startWatch(home("carol"), carolOut);
    await bobWatch.waitFor(/ connected to /);
    await carolWatch.waitFor(/ connected to /);
    await bobWatch.waitFor(/saved alice\/first\.png/);
    expectRun(await sis(["admin", "disable", "bob", "--data", data]), { code: 0, stderr: "", stdout: "disabled bob; their open connections end within seconds\n" });
    const code = await Promise.race([bobWatch.proc.exited, Bun.sleep(30_000).then(() => "still running")]);
    expect({ code, lines: bobWatch.lines }).toMatchObject({ code: 3 });
    expect(bobWatch.lines.join("\n")).toMatch(/^sis: cannot watch: your account has been disabled.*\(ACCOUNT_DISABLED\)$/m);
    await until(() => /disabled account: session ended .*user="bob"/.test(server.output()), "the server to log the ended session");
    expectRun(await post("alice", SAMPLE.jpg, "after.jpg"), { code: 0 });
    await carolWatch.waitFor(/saved alice\/after\.jpg/);
    expect(existsSync(join(bobOut, "alice", "after.jpg"))).toBe(false);
    expect((await usersJson()).bob!.state).toBe("disabled");
  });

  test("every certificate of bob's is refused with exit 3, and the password no longer enrols a new key", async () => {
    expectRun(await sis(["list", "--home", home("bob")]), { code: 3, stdout: "", stderr: /^sis: cannot list: your account has been disabled.*\(ACCOUNT_DISABLED\)\n$/ });
    expectRun(await register(server, "bob", home("bob-laptop")), { code: 3, stdout: "", stderr: /this account is disabled.*\(ACCOUNT_DISABLED\)\n$/ });
    expect(existsSync(join(home("bob-laptop"), "cert.pem"))).toBe(false);
    expectRun(await sis(["list", "--home", home("carol")]), { code: 0, stderr: "" });
  });

  test("sis admin enable restores bob: his certificate works again", async () => {
    expectRun(await sis(["admin", "enable", "bob", "--data", data]), { code: 0, stderr: "", stdout: "enabled bob\n" });
    expectRun(await sis(["list", "--home", home("bob")]), { code: 0, stderr: "" });
    expectRun(await sis(["admin", "enable", "bob", "--data", data]), { code: 0, stdout: "bob was already enabled\n" });
  });

  test("an unknown user is a usage error naming the list command", async () => {
    expectRun(await sis(["admin", "disable", "nobody", "--data", data]), { code: 2, stdout: "", stderr: /no user 'nobody'; 'sis admin users' lists them/ });
  });
});

describe("M14: sis passwd", () => {
  test("changes the password: the old one no longer enrols, the new one does; a wrong current one is refused", async () => {
    expectRun(await sis(["passwd", "--home", home("carol"), "--password-stdin"], { stdin: "wrong-password-9\ncarol-new-password-2\n" }), { code: 1, stderr: /the current password is wrong \(AUTH_FAILED\)/ });
    expectRun(await sis(["passwd", "--home", home("carol"), "--password-stdin"], { stdin: "carol-password-1\ncarol-new-password-2\n" }), { code: 0, stderr: "", stdout: /^password changed for carol at / });
    expectRun(await register(server, "carol", home("carol-old"), "carol-password-1"), { code: 1, stderr: /\(AUTH_FAILED\)\n$/ });
    expectRun(await register(server, "carol", home("carol-new"), "carol-new-password-2"), { code: 0, stderr: "", stdout: /^enrolled a new key for carol/ });
  });
});

/**
 * A stranger guesses at alice's password until the server answers THROTTLED. Each failure past the third
 * doubles the wait (P17), so within a few guesses one lands inside the wait however slowly this machine
 * spawns them: no fixed count of guesses that a loaded machine could outlast.
 */
async function strangerThrottles(prefix: string): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const r = await register(server, "alice", home(`${prefix}-${i}`), `guess-password-${i}`);
    if (/\(THROTTLED\)\n$/.test(r.stderr)) return;
    expectRun(r, { code: 1, stdout: "", stderr: /\(AUTH_FAILED\)\n$/ });
  }
  throw new Error("twelve wrong guesses at alice's password and never THROTTLED");
}

describe("M15: the password throttle never blocks a user's existing devices", () => {
  test("a stranger's wrong guesses throttle enrolment for the name, while the user's certificate still lists, posts and changes the password", async () => {
    await strangerThrottles("stranger");
    expectRun(await sis(["list", "--home", home("alice")]), { code: 0, stderr: "" });
    expectRun(await post("alice", SAMPLE.gif, "still.gif"), { code: 0 });
    expectRun(await sis(["passwd", "--home", home("alice"), "--password-stdin"], { stdin: "alice-password-1\nalice-password-2\n" }), { code: 0, stderr: "" });
  });

  test("right after a stranger's guesses throttle her name, alice enrols a new device with a link code from one she has, no password (M20, M22)", async () => {
    await strangerThrottles("stranger-b");
    const made = await sis(["devices", "link", "--home", home("alice")]);
    expectRun(made, { code: 0, stderr: "" });
    const code = made.stdout.split("\n")[0]!;
    const args = ["register", "--link", "-", "--server", server.address, "--ca-fingerprint", server.fingerprint, "--home", home("alice-tablet"), "--key-bits", "2048"];
    expectRun(await sis(args, { stdin: `${code}\n` }), { code: 0, stderr: "", stdout: /^linked this device \(.*\) to alice at / });
    expectRun(await sis(["list", "--home", home("alice-tablet")]), { code: 0, stderr: "" });
  });
});

describe("M13: sis admin delete", () => {
  test("--images removes the account, its image rows and blob files durably; the others' images stay", async () => {
    expectRun(await post("carol", SAMPLE.webp, "carols.webp"), { code: 0 });
    const before = blobFiles();
    const db = new Database(join(data, "sis.db"), { readonly: true });
    const aliceIds = (db.query("SELECT i.id FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = 'alice'").all() as { id: string }[]).map((r) => r.id);
    const carolIds = (db.query("SELECT i.id FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = 'carol'").all() as { id: string }[]).map((r) => r.id);
    expect(aliceIds.length).toBe(3);
    for (const id of [...aliceIds, ...carolIds]) expect(before).toContain(id);
    expectRun(await sis(["admin", "delete", "alice", "--images", "--data", data]), { code: 0, stderr: "", stdout: "deleted alice (certificates revoked, name reserved); removed 3 images\n" });
    const after = blobFiles();
    for (const id of aliceIds) expect(after).not.toContain(id);
    for (const id of carolIds) expect(after).toContain(id);
    expect((db.query("SELECT COUNT(*) AS n FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = 'alice'").get() as { n: number }).n).toBe(0);
    db.close();
    expect(Object.keys(await usersJson())).toEqual(["bob", "carol"]);
    const list = await sis(["list", "--home", home("carol"), "--json"]);
    expect((JSON.parse(list.stdout) as { owner: string }[]).map((i) => i.owner)).toEqual(["carol"]);
    expectRun(await sis(["list", "--home", home("alice")]), { code: 3, stderr: /\(CERT_REVOKED\)\n$/ });
    // The name stays reserved: nobody inherits alice.
    expectRun(await register(server, "alice", home("alice-reborn"), "alice-password-2"), { code: 1 });
  });

  test("without --images the account goes and the images stay", async () => {
    expectRun(await sis(["admin", "delete", "bob", "--data", data]), { code: 0, stderr: "", stdout: "deleted bob (certificates revoked, name reserved); their images stay\n" });
    expect(Object.keys(await usersJson())).toEqual(["carol"]);
  });
});
