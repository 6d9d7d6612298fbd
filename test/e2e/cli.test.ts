/** The compiled binary's manners: version, help for every command, the narrated demo. */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { sis } from "../support/cli.ts";

const COMMANDS = ["serve", "register", "whoami", "post", "list", "get", "watch", "admin", "gallery", "demo", "passwd"];

describe("sis binary", () => {
  test("--version prints the version on stdout and exits 0", async () => {
    const r = await sis(["--version"]);
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^sis \d+\.\d+\.\d+\n$/), stderr: "" });
  });

  test("--help lists every command and the exit codes", async () => {
    const r = await sis(["--help"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c}`);
    expect(r.stdout).toContain("Exit codes: 0 success, 1 error, 2 usage, 3 trust or verification refused.");
  });

  test.each(COMMANDS)("sis %s --help shows its usage and exits 0", async (command) => {
    const r = await sis([command, "--help"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toStartWith(`usage: sis ${command}`);
  });

  test("an unknown command is a usage error that says where the list is", async () => {
    const r = await sis(["frobnicate"]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: "sis: cannot run 'frobnicate': no such command; run 'sis --help' for the list\n" });
  });

  test("sis demo narrates issuance, pinning, posting, NEW_IMAGE, re-wrap, verification and saving, then cleans up", async () => {
    const r = await sis(["demo"], { timeoutMs: 90_000 });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ 1\. server listening on tls:\/\/127\.0\.0\.1:\d+; new CA with fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(r.stdout).toMatch(/alice +made an RSA key, pinned CA .*got certificate serial [0-9a-f]+/);
    expect(r.stdout).toMatch(/bob +made an RSA key, pinned CA .*got certificate serial [0-9a-f]+/);
    expect(r.stdout).toMatch(/alice +posting sample\.png: encrypting it with a fresh AES-256 key, signing it, wrapping the key for the server\n/);
    expect(r.stdout).toMatch(/alice +the server has it on disk: stored as alice\/sample\.png \(id [0-9a-f]{32}\)/);
    // The narration follows the flow: alice starts before the server re-wraps for bob, bob saves last.
    const at = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l));
    expect(at(/alice +posting/)).toBeLessThan(at(/server unwrapped/));
    expect(at(/server unwrapped/)).toBeLessThan(at(/bob +decrypted/));
    expect(at(/alice +the server has it/)).toBeLessThan(at(/bob +saved/));
    expect(r.stdout).toMatch(/bob +NEW_IMAGE received: alice\/sample\.png/);
    expect(r.stdout).toMatch(/server unwrapped the key of alice's image and re-wrapped it for bob's certificate/);
    expect(r.stdout).toMatch(/bob +decrypted every chunk; signature by alice \(serial [0-9a-f]+\) verified/);
    expect(r.stdout).toMatch(/bob +saved \S+\/alice\/sample\.png — byte-identical to what alice posted/);
    const cleaned = /^cleaned up (\S+)$/m.exec(r.stdout);
    expect(cleaned).not.toBeNull();
    expect(existsSync(cleaned![1]!)).toBe(false);
  });
});
