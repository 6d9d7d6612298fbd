/** `npm run install-bin` puts `sis` on the PATH: installed into a temporary PREFIX, then run by name. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { VERSION } from "../../cli/version.ts";

const ROOT = resolve(import.meta.dir, "../..");

async function run(cmd: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

test("O1: install: npm run install-bin into PREFIX, then `sis --version` by name with PATH pointing there", async () => {
  const prefix = mkdtempSync(join(tmpdir(), "sis-prefix-"));
  try {
    const base = { HOME: process.env.HOME ?? "/tmp", PATH: `${ROOT}/node_modules/.bin:/usr/local/bin:/usr/bin:/bin` };
    const install = await run(["npm", "run", "--silent", "install-bin"], { ...base, PREFIX: prefix });
    expect(install.stderr).not.toContain("error");
    expect(install.code).toBe(0);
    expect(install.stdout).toContain(`installed ${prefix}/bin/sis (sis ${VERSION})`);
    // The PATH the installer ran with lacks PREFIX/bin, so it says how to add it.
    expect(install.stdout).toContain(`note: ${prefix}/bin is not on your PATH`);
    expect(statSync(join(prefix, "bin/sis")).mode & 0o777).toBe(0o755);

    const byName = await run(["sis", "--version"], { HOME: base.HOME, PATH: `${prefix}/bin:/usr/bin:/bin` });
    expect(byName).toEqual({ code: 0, stdout: `sis ${VERSION}\n`, stderr: "" });

    // On the PATH: no note.
    const again = await run(["npm", "run", "--silent", "install-bin"], { ...base, PREFIX: prefix, PATH: `${prefix}/bin:${base.PATH}` });
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("not on your PATH");
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}, 600_000);

test("npm start says where the binary is before the server's own lines", async () => {
  const data = mkdtempSync(join(tmpdir(), "sis-npm-start-"));
  // setsid: npm, its shell and sis share one new process group, ended together below.
  const proc = Bun.spawn(["setsid", "npm", "start", "--", "--data", join(data, "d"), "--port", "0", "--http-port", "0"], {
    cwd: ROOT,
    env: { HOME: process.env.HOME ?? "/tmp", PATH: `${ROOT}/node_modules/.bin:/usr/local/bin:/usr/bin:/bin` },
    stdout: "pipe",
    stderr: "ignore",
  });
  try {
    let out = "";
    const reader = proc.stdout.getReader();
    while (!/^users register with: /m.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`npm start ended early:\n${out}`);
      out += new TextDecoder().decode(value);
    }
    const lines = out.split("\n");
    const binary = lines.findIndex((l) => l === `binary: ${ROOT}/dist/sis (npm run install-bin puts it on your PATH as sis)`);
    expect(binary).toBeGreaterThanOrEqual(0);
    expect(binary).toBeLessThan(lines.findIndex((l) => l.startsWith("CA fingerprint")));
  } finally {
    try {
      process.kill(-proc.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await proc.exited;
    rmSync(data, { recursive: true, force: true });
  }
}, 300_000);
