/** O5, O10–O13 through the compiled binary: SIGHUP rereads --config (log level, limits), the JSON log parses and never holds a secret or, with --log-names=false, an image name. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { register, registerInvited, sis, startServe, startWatch, tempDir } from "../support/cli.ts";
import { SAMPLE, waitForLineAfter } from "../support/share.ts";
import { until } from "../support/until.ts";

/** Every file under `dir` whose text holds a PEM private key, with that text. */
function privateKeyFiles(dir: string): { path: string; pem: string }[] {
  const out: { path: string; pem: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...privateKeyFiles(path));
    else if (statSync(path).size < 64 * 1024) {
      const text = readFileSync(path, "latin1");
      if (text.includes("PRIVATE KEY-----")) out.push({ path, pem: text });
    }
  }
  return out;
}

/**
 * Overlapping pieces of a key: 24 base64 characters every 12 of its body, and 24 hex digits
 * every 12 of its DER. The first 32 or so bytes (version and algorithm identifier, the same in every
 * RSA key and partly in every certificate) are no secret and are skipped.
 */
function keyFragments(pem: string): string[] {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  // Base64 from three starting bytes: a key logged from any offset shows up in one of them.
  const texts = [33, 34, 35].map((at) => der.subarray(at).toString("base64").replace(/=+$/, "")).concat(der.subarray(32).toString("hex"));
  const pieces: string[] = [];
  for (const text of texts) for (let i = 0; i + 24 <= text.length; i += 12) pieces.push(text.slice(i, i + 24));
  return pieces;
}

describe("the server log", () => {
  test("SIGHUP rereads --config: the log level and the limits change at once, what needs a restart is named, a broken file keeps the running configuration", async () => {
    using root = tempDir("sis-log-hup-");
    const config = join(root, "sis.toml");
    writeFileSync(config, 'log-level = "info"\n');
    await using server = await startServe(join(root, "data"), ["--config", config]);
    const alice = join(root, "alice");
    expect((await register(server, "alice", alice)).code).toBe(0);
    expect((await sis(["list", "--home", alice])).code).toBe(0);
    expect(server.log()).toContain(" info user registered ");
    expect(server.log()).not.toMatch(/ debug /);

    writeFileSync(config, 'log-level = "debug"\nmax-image-size = "4K"\nrevocation-check = 5\n');
    server.proc.kill("SIGHUP");
    await until(() => server.log().includes("SIGHUP: configuration reloaded"), "the reload line");
    expect(server.log()).toContain(`info SIGHUP: configuration reloaded file="${config}" changed=["max-image-size: 100M -> 4K","log-level: info -> debug"] needsRestart=["revocation-check: 2 -> 5"]\n`);
    // The new level: a connection is now logged at debug.
    const posted = await sis(["post", "--home", alice, SAMPLE.png]);
    expect(server.log()).toMatch(/ debug connection opened address="127\.0\.0\.1" /);
    // The new limit: HELLO says 4 KiB, and the 12 KiB sample is refused before it is sent.
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 1, stderr: `sis: cannot post ${SAMPLE.png}: it is 12610 bytes and the server takes at most 4096\n` });

    // The membership limits reload too: a 4 KiB quota refuses the same image at the server (the image size is back to its default).
    writeFileSync(config, 'log-level = "debug"\nquota = "4K"\npost-rate = 7\n');
    server.proc.kill("SIGHUP");
    // revocation-check is back to the value the server runs with: nothing waits for a restart.
    await until(() => server.log().includes('changed=["max-image-size: 4K -> 100M","quota: 10G -> 4K","post-rate: 120 -> 7"] needsRestart=[]'), "the second reload line");
    const overQuota = await sis(["post", "--home", alice, SAMPLE.png]);
    expect(overQuota.code).toBe(1);
    expect(overQuota.stderr).toContain("you use 0 B of your 4.0 KiB (4096 B) quota");
    expect(overQuota.stderr).toContain("(QUOTA_EXCEEDED)");
    // USAGE reads the reloaded quota as well.
    const whoami = await sis(["whoami", "--home", alice]);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toContain("(4096 B) quota");

    // A reload that raises the level to warn still writes its own line (at the level it replaces).
    writeFileSync(config, 'log-level = "warn"\nquota = "4K"\npost-rate = 7\n');
    server.proc.kill("SIGHUP");
    await until(() => server.log().includes('changed=["log-level: debug -> warn"] needsRestart=[]'), "the reload to warn");
    expect((await sis(["list", "--home", alice])).code).toBe(0);
    const lines = server.log().split("\n");
    const raised = lines.findIndex((l) => l.includes('"log-level: debug -> warn"'));
    expect(lines.slice(raised + 1).filter((l) => / (debug|info) /.test(l))).toEqual([]);

    writeFileSync(config, 'log-level = "loud"\n');
    server.proc.kill("SIGHUP");
    await until(() => server.log().includes("SIGHUP: cannot reload"), "the refused reload");
    expect(server.log()).toMatch(/ error SIGHUP: cannot reload the configuration; the running one is kept file=".*sis\.toml" error="cannot read config .*sis\.toml: line 1: key \\"log-level\\": takes one of debug, info, warn, error, got \\"loud\\"; /);
    expect((await sis(["list", "--home", alice])).code).toBe(0);
    await server.stop();
    expect(server.proc.exitCode).toBe(0);
  }, 120_000);

  test("--log-format json --log-level debug --log-names=false through register, refused login, post, watch, get, invitation, link code, disable, rm, revoke and stop: every line parses, no password, invitation, link code, key or image name is in it", async () => {
    using root = tempDir("sis-log-secrets-");
    const data = join(root, "data");
    const alice = join(root, "alice");
    const aliceLaptop = join(root, "alice-laptop");
    const bob = join(root, "bob");
    const carol = join(root, "carol");
    const alicePhone = join(root, "alice-phone");
    const passwords = { alice: "alice-Secret-Passw0rd-31337", bob: "bob-Other-Passw0rd-4242", carol: "carol-Third-Passw0rd-777", wrong: "not-alices-Passw0rd-999" };
    const imageName = "holiday-at-the-lighthouse.png";
    await using server = await startServe(data, ["--log-format", "json", "--log-level", "debug", "--log-names=false"]);
    expect((await register(server, "alice", alice, passwords.alice)).code).toBe(0);
    expect((await register(server, "bob", bob, passwords.bob)).code).toBe(0);
    const refused = await register(server, "alice", join(root, "mallory"), passwords.wrong);
    expect(refused.code).not.toBe(0);
    expect((await register(server, "alice", aliceLaptop, passwords.alice)).code).toBe(0);

    await using w = startWatch(bob, join(root, "out"));
    await w.waitFor(/ connected to /);
    const posted = await sis(["post", "--home", alice, "--name", imageName, SAMPLE.png]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const id = /id ([0-9a-f]{32})/.exec(posted.stdout)![1]!;
    await waitForLineAfter(w, 0, / saved alice\/holiday-at-the-lighthouse\.png /);
    expect((await sis(["get", "--home", bob, "-o", join(root, "got"), `alice/${imageName}`])).code).toBe(0);
    // An invitation made while the server runs, used by carol (M3); a link code used by alice's phone (M20).
    const invited = await sis(["admin", "invite", "--data", data, "--user", "carol"]);
    expect(invited.code).toBe(0);
    const invitation = invited.stdout.trim();
    expect(invitation).toStartWith("sis1:");
    expect((await registerInvited(invitation, "carol", carol, passwords.carol)).code).toBe(0);
    const linked = await sis(["devices", "link", "--home", alice]);
    expect(linked.code).toBe(0);
    const linkCode = linked.stdout.split("\n")[0]!;
    const phone = await sis(["register", "--link", "-", "--server", server.address, "--ca-fingerprint", server.fingerprint, "--home", alicePhone, "--key-bits", "2048"], { stdin: `${linkCode}\n` });
    expect({ code: phone.code, stderr: phone.stderr }).toEqual({ code: 0, stderr: "" });
    // Both replayed: the invitation by another name and the link code by another device, each refused (M3, M20).
    expect((await registerInvited(invitation, "carol", join(root, "carol-again"), passwords.carol)).stderr).toContain("(INVITE_USED)");
    const tablet = await sis(["register", "--link", "-", "--server", server.address, "--ca-fingerprint", server.fingerprint, "--home", join(root, "alice-tablet"), "--key-bits", "2048"], { stdin: `${linkCode}\n` });
    expect(tablet.stderr).toContain("(LINK_REFUSED)");
    // carol is disabled while her watch runs (the session's end is logged), then enabled again.
    await using carolWatch = startWatch(carol, join(root, "carol-out"));
    await carolWatch.waitFor(/ connected to /);
    // Idle first: a catch-up DOWNLOAD under way would be refused by its own identity check (P5a,
    // "certificate refused on request") before the revocation watch ends the session.
    await carolWatch.waitFor(/ saved alice\/holiday-at-the-lighthouse\.png /);
    expect((await sis(["admin", "disable", "--data", data, "carol"])).code).toBe(0);
    expect(await carolWatch.proc.exited).toBe(3);
    await until(() => server.log().includes('"disabled account: session ended"'), "the disabled session logged");
    expect((await sis(["admin", "enable", "--data", data, "carol"])).code).toBe(0);
    // alice deletes the image: logged by id and owner (M27).
    const removed = await sis(["rm", "--home", alice, imageName]);
    expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: "" });
    await until(() => server.log().includes('"image deleted"'), "the deletion logged");
    // Without --config a SIGHUP changes nothing, and says so.
    server.proc.kill("SIGHUP");
    await until(() => server.log().includes("SIGHUP: nothing to reload"), "the SIGHUP line");
    expect((await sis(["admin", "revoke", "--data", data, "alice"])).code).toBe(0);
    // Alice's three certificates (alice, alice-laptop, alice-phone), each named by the server (the disable above logged none).
    await until(() => server.log().split('"certificate revoked"').length - 1 >= 3, "the server to name the revoked certificates");
    await w.stop();
    await server.stop();
    expect(server.proc.exitCode).toBe(0);

    const log = server.log();
    const lines = log.split("\n").filter((l) => l !== "");
    const entries = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    for (const e of entries) expect({ time: typeof e.time, level: ["debug", "info", "warn", "error"].includes(e.level as string), msg: typeof e.msg }).toEqual({ time: "string", level: true, msg: "string" });
    const msgs = entries.map((e) => e.msg as string);
    // Each kind of event the issue names is there (so the scan below reads a log that saw the secrets go by).
    for (const m of ["server started", "user registered", "login failed", "key enrolled", "connection opened", "upload started", "image stored", "image sent", "link code made", "device linked", "invitation refused", "link code refused", "disabled account: session ended", "image deleted", "certificate revoked", "revocations recorded; open sessions checked", "shutting down: no new connections; uploads under way may finish", "server stopped"]) {
      expect({ m, logged: msgs.includes(m) }).toEqual({ m, logged: true });
    }
    expect(msgs.some((m) => m.startsWith("created a NEW certificate authority"))).toBe(true);
    const stored = entries.find((e) => e.msg === "image stored")!;
    expect(stored).toMatchObject({ id, owner: "alice", size: 12610 });
    expect(Object.keys(stored)).not.toContain("name");
    const deleted = entries.find((e) => e.msg === "image deleted")!;
    expect(deleted).toMatchObject({ id, owner: "alice", by: "alice" });
    expect(Object.keys(deleted)).not.toContain("name");
    expect(entries.find((e) => e.msg === "disabled account: session ended")).toMatchObject({ user: "carol" });
    expect(entries.filter((e) => e.msg === "certificate revoked").map((e) => e.user)).toEqual(["alice", "alice", "alice"]);

    // No password (the right ones and the wrong one), no invitation or its secret, no link code (as shown or
    // canonical), no image name, no piece of a private key.
    const invitationSecret = invitation.split(":").pop()!;
    expect(invitationSecret.length).toBeGreaterThanOrEqual(16);
    const secrets = [...Object.values(passwords), invitation, invitationSecret, linkCode, linkCode.replace(/-/g, ""), imageName, "lighthouse"];
    for (const secret of secrets) expect({ secret, found: log.includes(secret) }).toEqual({ secret, found: false });
    const keys = [alice, aliceLaptop, alicePhone, bob, carol, data].flatMap((dir) => privateKeyFiles(dir));
    // The CA, TLS, storage and TSA keys of the data directory, and one key per client home.
    expect(keys.length).toBeGreaterThanOrEqual(9);
    for (const { path, pem } of keys) {
      const leaked = keyFragments(pem).filter((f) => log.includes(f));
      expect({ path, leaked }).toEqual({ path, leaked: [] });
    }
  }, 180_000);
});
