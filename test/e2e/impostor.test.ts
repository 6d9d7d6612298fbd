/** P2 end to end: another CA on the pinned address, or an expired server certificate, is a trust refusal (exit 3), also for watch. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeTime, SIS, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";

setDefaultTimeout(90_000);

let box: Sandbox;
/** A second server: its own data directory, so its own CA. */
let impostor: ServerProcess;
/** alice's home, copied, with the profile's server rewritten to the impostor's address. */
let fooled: string;

beforeAll(async () => {
  box = await openSandbox("sis-impostor-", ["alice"]);
  impostor = await startServe(join(box.root, "other-data"));
  fooled = join(box.root, "alice-fooled");
  cpSync(box.home("alice"), fooled, { recursive: true });
  const profilePath = join(fooled, "profile.json");
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as { server: string };
  writeFileSync(profilePath, JSON.stringify({ ...profile, server: impostor.address }, null, 2) + "\n");
}, 90_000);

afterAll(async () => {
  await impostor?.stop();
  await box?.close();
});

/** The words of the refusal: not the pinned CA, the two explanations, and what to do. */
const NOT_PINNED = /^sis: cannot trust the server at 127\.0\.0\.1:\d+: its certificate is not from the pinned CA \(someone may be intercepting the connection, or the server's CA changed\); do not send anything to it, ask the operator whether the CA changed, and if it did, register again with the new CA fingerprint\n$/;

describe("a server whose certificate is not from the pinned CA (P2)", () => {
  for (const command of [["list"], ["get", "alice/x.png"]]) {
    test(`sis ${command[0]} exits 3 with the trust refusal, not a network error`, async () => {
      const r = await sis([...command, "--home", fooled]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 3, stdout: "" });
      expect(r.stderr).toMatch(NOT_PINNED);
    });
  }

  test("sis watch stops with exit 3 instead of retrying", async () => {
    await using w = startWatch(fooled, box.freshDir("out"));
    const code = await Promise.race([w.proc.exited, Bun.sleep(30_000).then(() => "still running")]);
    expect(code).toBe(3);
    const refusals = w.lines.filter((l) => NOT_PINNED.test(`${l}\n`));
    expect(refusals).toHaveLength(1);
    expect(w.lines.filter((l) => / reconnecting | disconnected/.test(l))).toEqual([]);
  });

  test("the real server still works from the real home (the refusal is about the impostor)", async () => {
    const r = await sis(["list", "--home", box.home("alice")]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  });
});

describe("a peer that hangs up during the handshake", () => {
  test("is a network failure (exit 1), not a trust refusal: nothing was said about a certificate", async () => {
    let accepted = 0;
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void (accepted++, s.end()), data() {} } });
    try {
      const home = join(box.root, "alice-hangup");
      cpSync(box.home("alice"), home, { recursive: true });
      const profilePath = join(home, "profile.json");
      const profile = JSON.parse(readFileSync(profilePath, "utf8")) as { server: string };
      writeFileSync(profilePath, JSON.stringify({ ...profile, server: `127.0.0.1:${listener.port}` }, null, 2) + "\n");
      const r = await sis(["list", "--home", home]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 1, stdout: "", stderr: `sis: cannot connect to 127.0.0.1:${listener.port}: the connection closed during the handshake\n` });
      expect(accepted).toBe(1);
    } finally {
      listener.stop(true);
    }
  });
});

describe("a server certificate that has expired (P2)", () => {
  test("sis list 800 days from now exits 3 and says the certificate expired", async () => {
    // libfaketime preloaded (fakeTime()), not the `faketime` wrapper: it fails where an earlier process left a semaphore named by its pid.
    const proc = Bun.spawn([SIS, "list", "--home", box.home("alice")], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...fakeTime("+800d") } });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stdout }).toEqual({ code: 3, stdout: "" });
    expect(stderr).toMatch(/^sis: cannot trust the server at 127\.0\.0\.1:\d+: its certificate has expired or is not valid yet \(check this computer's clock; if it is right, ask the operator to renew the server certificate\)\n$/);
  });
});
