/** Membership on a real terminal (tmux): the invitation and the passwords typed unseen (M4, M14). */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { register, SIS, startServe, tempDir, type ServerProcess } from "../support/cli.ts";
import { expectRun } from "../support/auth-kit.ts";
import { openTerminal } from "../support/terminal.ts";

setDefaultTimeout(90_000);

const root = tempDir("sis-e2e-membership-tty-");
let server: ServerProcess;

beforeAll(async () => {
  server = await startServe(join(root, "data"), [], { invitations: true });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  root[Symbol.dispose]();
});

describe("sis register --invite - on a terminal", () => {
  test("asks for the invitation and the password with echo off, pins the CA it names, and registers", async () => {
    const invitation = server.invitation!;
    const secret = invitation.split(":").pop()!;
    const password = "uma-secret-password-1";
    await using term = await openTerminal([SIS, "register", "--invite", "-", "--user", "uma", "--home", join(root, "uma"), "--key-bits", "2048"]);
    await term.waitFor(/invitation: /);
    await term.type(invitation);
    await term.waitFor(/password: /);
    await term.type(password);
    const done = await term.waitFor(/EXIT=\d+/);
    expect(done).toMatch(/\nEXIT=0\n/);
    expect(done).toContain(`pinned CA ${server.fingerprint}\n`);
    expect(done).not.toContain(secret);
    expect(done).not.toContain(password);
  });
});

describe("sis passwd on a terminal", () => {
  test("asks for the current password and the new one twice, unseen; the new one enrols", async () => {
    await using term = await openTerminal([SIS, "passwd", "--home", join(root, "uma")]);
    await term.waitFor(/current password: /);
    await term.type("uma-secret-password-1");
    await term.waitFor(/new password: /);
    await term.type("uma-other-password-2");
    await term.waitFor(/new password again: /);
    await term.type("uma-other-password-2");
    const done = await term.waitFor(/EXIT=\d+/);
    expect(done).toMatch(/\nEXIT=0\n/);
    expect(done).toContain("password changed for uma at ");
    expect(done).not.toContain("uma-other-password-2");
    expectRun(await register(server, "uma", join(root, "uma-2"), "uma-other-password-2"), { code: 0, stderr: "", stdout: /^enrolled a new key for uma/ });
  });
});
