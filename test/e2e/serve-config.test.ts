/** `sis serve --config FILE` and `--print-config` with the compiled binary: the file's values take effect, flags override it, bad files start nothing. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectRun, helloAs, openssl } from "../support/auth-kit.ts";
import { register, sis, startServe, tempDir } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";

// Real processes, argon2id and RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

const root = tempDir("sis-e2e-serve-config-");
afterAll(() => root[Symbol.dispose]());

function write(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

describe("sis serve --config FILE", () => {
  test("the file's values take effect; flags given as well override the file's", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const fromFile = join(root, "data-from-file");
      // The file's port is taken and its data directory is another: the flags (--port 0 --data …) must win.
      const config = write("effect.toml", `port = ${holder.port}\ndata = ${JSON.stringify(fromFile)}\ncert-days = 2\nmax-image-size = "1K"\n`);
      const data = join(root, "data-from-flag");
      await using server = await startServe(data, ["--config", config]);
      expect(server.output()).toContain(`serving from ${data}`);
      expect(existsSync(fromFile)).toBe(false);
      expect(server.port).not.toBe(holder.port);

      await using client = await rawConnect(server.port);
      expect((await helloAs(client)).limits.maxImageSize).toBe(1024);

      const home = join(root, "cora");
      expectRun(await register(server, "cora", home), { code: 0, stderr: "" });
      const dates = await openssl(["x509", "-in", join(home, "cert.pem"), "-noout", "-startdate", "-enddate"]);
      expect(dates.code).toBe(0);
      const at = (field: string) => Date.parse(new RegExp(`^${field}=(.+)$`, "m").exec(dates.stdout)![1]!);
      expect(Math.round((at("notAfter") - at("notBefore")) / 86_400_000)).toBe(2);
    } finally {
      holder.stop(true);
    }
  });

  test("an unknown key: exit 2, the message names the file, line and key, and nothing is created", async () => {
    const data = join(root, "unknown-key");
    const config = write("unknown.toml", `data = ${JSON.stringify(data)}\nmax-image-sise = "5M"\n`);
    const r = await sis(["serve", "--config", config, "--port", "0", "--http-port", "0"]);
    expectRun(r, { code: 2, stdout: "", stderr: `sis: cannot read config ${config}: line 2: key "max-image-sise": not a setting of sis serve; fix it, or see 'sis serve --help' for the keys\n` });
    expect(existsSync(data)).toBe(false);
  });

  test("a bad value: exit 2, the message names the line, key and allowed range, and nothing is created", async () => {
    const data = join(root, "bad-value");
    const config = write("bad.toml", `data = ${JSON.stringify(data)}\n\ncert-days = 0\n`);
    const r = await sis(["serve", "--config", config, "--port", "0", "--http-port", "0"]);
    expectRun(r, {
      code: 2,
      stdout: "",
      stderr: `sis: cannot read config ${config}: line 3: key "cert-days": takes a whole number of days from 1 to 3650, got 0; fix it, or see 'sis serve --help' for the keys\n`,
    });
    expect(existsSync(data)).toBe(false);
  });

  test("a flag out of range is a usage error naming the flag", async () => {
    expectRun(await sis(["serve", "--data", join(root, "never"), "--upload-stall-timeout", "0"]), {
      code: 2,
      stdout: "",
      stderr: "sis: cannot run serve: --upload-stall-timeout takes a whole number of seconds from 1 to 3600; see 'sis serve --help'\n",
    });
    expect(existsSync(join(root, "never"))).toBe(false);
  });
});

describe("sis serve --print-config", () => {
  test("prints the effective configuration (defaults < file < flags) without starting; read back, it prints the same", async () => {
    const config = write("print.toml", 'port = 4321\ncert-days = 30\nhost = "127.0.0.2"\n');
    const first = await sis(["serve", "--config", config, "--port", "4400", "--print-config"], { cwd: root });
    expectRun(first, { code: 0, stderr: "" });
    expect(first.stdout).toContain("\nport = 4400\n");
    expect(first.stdout).toContain("\ncert-days = 30\n");
    expect(first.stdout).toContain('\nhost = "127.0.0.2"\n');
    expect(first.stdout).toContain(`\ndata = ${JSON.stringify(join(root, "sis-data"))}\n`);
    expect(first.stdout).toContain("\nhttp-port = 8233\n");
    expect(existsSync(join(root, "sis-data"))).toBe(false);

    const again = await sis(["serve", "--config", write("printed.toml", first.stdout), "--print-config"]);
    expectRun(again, { code: 0, stderr: "", stdout: first.stdout });
  });
});
