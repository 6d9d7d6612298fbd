/** sis register on a real terminal (tmux): the hidden password prompt, then trust on first contact (P27) answered by a person. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SIS, sis, startServe, tempDir, type ServerProcess } from "../support/cli.ts";
import { expectRun } from "../support/auth-kit.ts";
import { openTerminal } from "../support/terminal.ts";

setDefaultTimeout(90_000);

const root = tempDir("sis-e2e-register-tty-");
let server: ServerProcess;

beforeAll(async () => {
  server = await startServe(join(root, "data"));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  root[Symbol.dispose]();
});

const QUESTION = /Trust it\? \[y\/N\] /;

function registerOnTerminal(user: string, home: string) {
  return openTerminal([SIS, "register", "--server", server.address, "--user", user, "--home", home, "--key-bits", "2048"]);
}

describe("sis register on a terminal without --ca-fingerprint", () => {
  test("the password is typed unseen, the fingerprint shown is the server's, and 'y' registers and pins it", async () => {
    const home = join(root, "zed");
    const password = "zed-secret-password-1";
    await using term = await registerOnTerminal("zed", home);
    await term.waitFor(/password: /);
    await term.type(password);
    const asked = await term.waitFor(QUESTION);
    expect(asked).not.toContain(password);
    expect(asked).toContain(`The server's CA fingerprint (SHA-256) is\n  ${server.fingerprint}\n`);
    // The question waits for the answer (it used to answer itself and exit 3 at once).
    expect(asked).not.toContain("EXIT=");
    await term.type("y");
    const done = await term.waitFor(/EXIT=\d+/);
    expect(done).toMatch(/\nEXIT=0\n/);
    expect(done).toContain(`registered zed at ${server.address}\n`);
    expect(done).toContain(`pinned CA ${server.fingerprint}\n`);
    expect(done).not.toContain(password);
    expect(readFileSync(join(home, "ca.pem"), "utf8")).toBe(readFileSync(join(server.dataDir, "ca.pem"), "utf8"));
    expect(readFileSync(join(home, "cert.pem"), "utf8")).toStartWith("-----BEGIN CERTIFICATE-----\n");
    // The typed password is the one stored: it enrols a second device.
    expectRun(
      await sis(["register", "--server", server.address, "--user", "zed", "--home", join(root, "zed-2"), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], {
        stdin: `${password}\n`,
      }),
      { code: 0, stderr: "", stdout: /^enrolled a new key for zed at / },
    );
  });

  test("'n' exits 3, writes nothing, and suggests --ca-fingerprint with the whole fingerprint to paste", async () => {
    const home = join(root, "yan");
    await using term = await registerOnTerminal("yan", home);
    await term.waitFor(/password: /);
    await term.type("yan-secret-password-1");
    await term.waitFor(QUESTION);
    await term.type("n");
    const done = await term.waitFor(/EXIT=\d+/);
    expect(done).toMatch(/\nEXIT=3\n/);
    expect(done).toContain(`sis: cannot trust ${server.address} without its CA fingerprint: `);
    expect(done).toContain(`pass --ca-fingerprint ${server.fingerprint}\n`);
    expect(existsSync(home)).toBe(false);
  });
});
