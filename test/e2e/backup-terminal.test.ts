/** The backup passphrase on a real terminal: asked with echo off (twice for a backup), never shown, mismatch refused. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SIS, startServe, tempDir, type ServerProcess } from "../support/cli.ts";
import { openTerminal } from "../support/terminal.ts";

let root: string & Disposable;
let server: ServerProcess;

beforeAll(async () => {
  root = tempDir("sis-backup-tty-");
  server = await startServe(join(root, "data"));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  root?.[Symbol.dispose]();
});

test("backup --encrypt asks twice with echo off; verify-backup asks once; the passphrase never appears on the screen", async () => {
  const dest = join(root, "enc");
  const phrase = "tty secret phrase 42";
  {
    await using term = await openTerminal([SIS, "admin", "backup", dest, "--data", server.dataDir, "--encrypt"]);
    await term.waitFor(/backup passphrase: $/m);
    await term.type(phrase);
    await term.waitFor(/backup passphrase again: $/m);
    await term.type(phrase);
    const screen = await term.waitFor(/EXIT=\d+/);
    expect(screen).toContain("EXIT=0");
    expect(screen).toMatch(/backup \S+: 0 images; 0 blobs copied, 0 unchanged/);
    expect(screen).not.toContain(phrase);
  }
  {
    await using term = await openTerminal([SIS, "admin", "verify-backup", dest]);
    await term.waitFor(/backup passphrase: $/m);
    await term.type(phrase);
    const screen = await term.waitFor(/EXIT=\d+/);
    expect(screen).toContain("EXIT=0");
    expect(screen).toContain("is sound");
    expect(screen).not.toContain(phrase);
    expect(screen).not.toContain("again");
  }
}, 120_000);

test("two different passphrases for a new encrypted backup are refused and nothing is written into DEST", async () => {
  const dest = join(root, "mismatch");
  await using term = await openTerminal([SIS, "admin", "backup", dest, "--data", server.dataDir, "--encrypt"]);
  await term.waitFor(/backup passphrase: $/m);
  await term.type("first one");
  await term.waitFor(/backup passphrase again: $/m);
  await term.type("second one");
  const screen = await term.waitFor(/EXIT=\d+/);
  expect(screen).toContain("EXIT=2");
  expect(screen).toContain("the two passphrases differ");
  expect(screen).not.toContain("first one");
  expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
}, 120_000);
