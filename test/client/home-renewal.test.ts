/** RN5: a renewal is installed through one pending file; a crash before it changes nothing, one after it is finished by the next load. */
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Home, type Profile } from "../../src/client/home.ts";
import { tempDir } from "../support/cli.ts";

const PEM = (label: string, body: string) => `-----BEGIN ${label}-----\n${Buffer.from(body).toString("base64")}\n-----END ${label}-----\n`;

function profile(serial: string): Profile {
  return { server: "127.0.0.1:1233", username: "alice", serial, notAfter: Date.now() + 1000, caFingerprint: "AB" };
}

async function homeWithRegistration(dir: string): Promise<Home> {
  const home = new Home(dir);
  await home.saveRegistration({ profile: profile("01"), keyPem: PEM("PRIVATE KEY", "old key"), certPem: PEM("CERTIFICATE", "old cert") });
  writeFileSync(join(dir, "ca.pem"), PEM("CERTIFICATE", "ca"));
  return home;
}

describe("the home's renewal file (RN5)", () => {
  test("saveRenewal() replaces key, certificate and profile together and leaves no pending file", async () => {
    using dir = tempDir("sis-home-renew-");
    const home = await homeWithRegistration(dir);
    await home.saveRenewal({ profile: profile("02"), keyPem: PEM("PRIVATE KEY", "new key"), certPem: PEM("CERTIFICATE", "new cert") });
    expect(readFileSync(home.path("key"), "utf8")).toBe(PEM("PRIVATE KEY", "new key"));
    expect(readFileSync(home.path("cert"), "utf8")).toBe(PEM("CERTIFICATE", "new cert"));
    expect((await home.readProfile()).serial).toBe("02");
    expect(statSync(home.path("key")).mode & 0o777).toBe(0o600);
    expect(() => statSync(home.path("renewal"))).toThrow();
  });

  test("a pending file left by a crash after it was written is finished by the next credentials(); without one nothing changes", async () => {
    using dir = tempDir("sis-home-renew-");
    const home = await homeWithRegistration(dir);
    expect((await home.credentials({ warn: false })).profile.serial).toBe("01");
    // What saveRenewal() writes first, and all a crash right after it leaves.
    writeFileSync(home.path("renewal"), JSON.stringify({ profile: profile("03"), keyPem: PEM("PRIVATE KEY", "newer key"), certPem: PEM("CERTIFICATE", "newer cert") }), { mode: 0o600 });
    const creds = await home.credentials({ warn: false });
    expect(creds.profile.serial).toBe("03");
    expect(creds.keyPem).toBe(PEM("PRIVATE KEY", "newer key"));
    expect(creds.certPem).toBe(PEM("CERTIFICATE", "newer cert"));
    expect(() => statSync(home.path("renewal"))).toThrow();
  });
});
