/** New devices without the password (PROTOCOL.md M20–M24), through the compiled binary: link codes, sis devices, sis devices remove. */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { hostname } from "node:os";
import { register, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { dirsForFile } from "../support/sandbox.ts";
import { expectRun, until } from "../support/auth-kit.ts";

setDefaultTimeout(60_000);

let server: ServerProcess;
const { data, home } = dirsForFile("sis-e2e-devices", () => server);

/** `sis devices link` in HOME: the code (its first line) and its expiry. */
async function makeCode(homeName: string): Promise<{ code: string; expiresAt: number; stdout: string }> {
  const r = await sis(["devices", "link", "--home", home(homeName)]);
  expectRun(r, { code: 0, stderr: "" });
  const code = r.stdout.split("\n")[0]!;
  const until = /until (\S+)\)/.exec(r.stdout)![1]!;
  return { code, expiresAt: Date.parse(until), stdout: r.stdout };
}

/** `sis register --link -` in HOME with the code on stdin (no password anywhere). */
function link(homeName: string, code: string, extra: string[] = []) {
  return sis(["register", "--link", "-", "--server", server.address, "--ca-fingerprint", server.fingerprint, "--home", home(homeName), "--key-bits", "2048", ...extra], { stdin: code + "\n" });
}

async function devicesOf(homeName: string): Promise<{ serial: string; device: string | null; lastUsed: string | null; state: string; current: boolean }[]> {
  const r = await sis(["devices", "--json", "--home", home(homeName)]);
  expectRun(r, { code: 0, stderr: "" });
  return JSON.parse(r.stdout);
}

async function serialOf(homeName: string): Promise<string> {
  const r = await sis(["whoami", "--json", "--home", home(homeName)]);
  expectRun(r, { code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as { serial: string }).serial;
}

beforeAll(async () => {
  // A short link lifetime, so that expiry is seen within the test.
  server = await startServe(data, ["--link-lifetime", "3"]);
  for (const r of await Promise.all([register(server, "alice", home("alice")), register(server, "bob", home("bob"))])) expectRun(r, { code: 0, stderr: "" });
}, 90_000);

describe("sis devices link + sis register --link - (M20–M22)", () => {
  let code: string;

  test("devices link prints a one-time code of 80 bits (XXXX-XXXX-XXXX-XXXX) and the command for the new device, without the code in it", async () => {
    const made = await makeCode("alice");
    code = made.code;
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(made.stdout).toContain(`sis register --link - --server ${server.address} --ca-fingerprint ${server.fingerprint}`);
    expect(made.stdout.split("\n").slice(1).join("\n")).not.toContain(code);
    // The code is never logged by the server (M20).
    expect(server.output()).not.toContain(code);
  });

  test("the code enrols a second device for alice with no password, named by --device", async () => {
    const r = await link("alice-phone", code, ["--device", "alice's phone"]);
    expectRun(r, { code: 0, stderr: "", stdout: /^linked this device \(alice's phone\) to alice at 127\.0\.0\.1:\d+\n/ });
    const who = await sis(["whoami", "--json", "--home", home("alice-phone")]);
    expect(JSON.parse(who.stdout)).toMatchObject({ user: "alice", caFingerprint: server.fingerprint });
    // The new device works: it lists the server's images as alice.
    expectRun(await sis(["list", "--home", home("alice-phone")]), { code: 0, stderr: "" });
    expect(server.output()).not.toContain(code);
  });

  test("the same code is refused the second time (LINK_REFUSED, used), and nothing is saved in the new home", async () => {
    const r = await link("alice-tablet", code);
    expectRun(r, { code: 1, stdout: "", stderr: /^sis: cannot register: this link code was already used; make a new one with 'sis devices link' on a registered device \(LINK_REFUSED\)\n$/ });
    expect(existsSync(join(home("alice-tablet"), "key.pem"))).toBe(false);
    expect(existsSync(join(home("alice-tablet"), "cert.pem"))).toBe(false);
  });

  test("a code is refused after its expiry, and a made-up one is refused as not valid", async () => {
    const made = await makeCode("alice");
    // The server's --link-lifetime is 3 s: wait for the expiry it printed to pass (bounded).
    await until(() => Date.now() > made.expiresAt + 200, "the link code's expiry", 10_000);
    expectRun(await link("alice-late", made.code), { code: 1, stderr: /this link code has expired.*\(LINK_REFUSED\)\n$/ });
    expectRun(await link("alice-guess", "ABCD-EFGH-JKMN-PQRS"), { code: 1, stderr: /this link code is not valid.*\(LINK_REFUSED\)\n$/ });
  });

  test("a code on the command line is refused before anything is made (ps shows it to every user)", async () => {
    const made = await makeCode("alice");
    const r = await sis(["register", "--link", made.code, "--server", server.address, "--ca-fingerprint", server.fingerprint, "--home", home("alice-argv")]);
    expectRun(r, { code: 2, stderr: /--link - and type or pipe it/ });
    expect(existsSync(home("alice-argv"))).toBe(false);
    // The code stays usable: it was never sent.
    expectRun(await link("alice-laptop", made.code, ["--device", "laptop"]), { code: 0, stderr: "" });
  });
});

describe("sis devices and sis devices remove (M23, M24)", () => {
  test("devices lists alice's certificates with their names and last use; * is the asking one", async () => {
    const list = await devicesOf("alice-phone");
    expect(list.map((d) => d.device)).toEqual([hostname(), "alice's phone", "laptop"]);
    expect(list.map((d) => d.state)).toEqual(["valid", "valid", "valid"]);
    expect(list.filter((d) => d.current).map((d) => d.device)).toEqual(["alice's phone"]);
    // Used (HELLO) by the list and whoami above; last use is recorded per certificate.
    expect(list.find((d) => d.device === "alice's phone")!.lastUsed).not.toBeNull();
    expect(list.map((d) => d.serial).sort()).toEqual([await serialOf("alice"), await serialOf("alice-phone"), await serialOf("alice-laptop")].sort());
    const text = await sis(["devices", "--home", home("alice")]);
    expectRun(text, { code: 0, stderr: "", stdout: /^SERIAL +DEVICE +LAST USED +STATE +CREATED\n/ });
    expect(text.stdout).toContain("alice's phone");
  });

  test("bob cannot remove alice's certificate: NOT_FOUND, and it stays valid", async () => {
    const phone = await serialOf("alice-phone");
    expectRun(await sis(["devices", "remove", phone, "--home", home("bob")]), { code: 1, stderr: /no certificate of yours has that serial.*\(NOT_FOUND\)\n$/ });
    expect((await devicesOf("alice")).find((d) => d.serial === phone)!.state).toBe("valid");
  });

  test("removing the phone ends its running sis watch with exit 3 within seconds; the other devices go on", async () => {
    const phone = await serialOf("alice-phone");
    await using w = startWatch(home("alice-phone"), join(home("alice-phone"), "out"));
    await w.waitFor(/ connected to /);
    const r = await sis(["devices", "remove", phone, "--home", home("alice")]);
    expectRun(r, { code: 0, stderr: "", stdout: `removed certificate ${phone}: it is refused from now on, and its open connections end within seconds\n` });
    // The server's revocation watch checks every 2 s (--revocation-check).
    const code = await Promise.race([w.proc.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))]);
    expect(code).toBe(3);
    expect(w.lines.join("\n")).toContain("revoked");
    expect((await devicesOf("alice")).find((d) => d.serial === phone)!.state).toBe("removed");
    expectRun(await sis(["list", "--home", home("alice-phone")]), { code: 3, stderr: /CERT_REVOKED/ });
    expectRun(await sis(["list", "--home", home("alice")]), { code: 0, stderr: "" });
    expectRun(await sis(["devices", "remove", phone, "--home", home("alice")]), { code: 0, stdout: `certificate ${phone} was already removed\n` });
  });
});
