/** sis serve's configuration (src/app/options.ts, src/app/config.ts): a file with every key, unknown keys and bad values by line, flags over the file, --print-config read back, and the table's defaults equal to what the server does. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMAND_HELP } from "../../cli/help.ts";
import { DEFAULT_LIMITS, FlagError, keyLine, limitsOf, loadConfig, parseFlags, printConfig, serveOptionsOf } from "../../src/app/config.ts";
import { DEFAULT_CONFIG, SERVE_OPTIONS, type ServeConfig } from "../../src/app/options.ts";
import { startServer } from "../../src/app/serve.ts";
import { ClientError } from "../../src/client/errors.ts";
import { PROFILES } from "../../src/pki/profiles.ts";
import { parseServer } from "../../src/client/home.ts";
import { PING_INTERVAL_MS } from "../../src/protocol/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { helloAs } from "../support/auth-kit.ts";
import { tempDir } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";

setDefaultTimeout(60_000);

const root = tempDir("sis-config-");
afterAll(() => root[Symbol.dispose]());

let n = 0;
/** Writes `text` as a fresh config file and returns its path. */
function file(text: string): string {
  const path = join(root, `serve-${++n}.toml`);
  writeFileSync(path, text);
  return path;
}

/** The error loadConfig() throws for `text`, as `sis` prints it. */
function refusal(text: string): { path: string; message: string; exitCode: number } {
  const path = file(text);
  try {
    loadConfig({ file: path, cwd: root });
  } catch (error) {
    expect(error).toBeInstanceOf(ClientError);
    return { path, message: (error as ClientError).message, exitCode: (error as ClientError).exitCode };
  }
  throw new Error("the file was accepted");
}

/** A value for every key, none of them its default. */
const EVERY_KEY = `# every key of sis serve, none at its default
host = "127.0.0.2"
port = 4321
http-host = "127.0.0.3"
http-port = 4322
data = "/srv/sis"
database = "postgres://sis@db.example:5432/sis"
blobs = "s3://sis-blobs/images/?endpoint=https://s3.example"
keys = "/srv/sis-keys"
max-image-size = "5M"
cert-days = 30
proxy-from = ["10.0.0.2", "2001:DB8:0::7"]
max-connections-per-address = 7
idle-timeout = 300
handshake-timeout = 20
upload-stall-timeout = 60
open-registration = true
revocation-check = 5
tls-cert-days = 90
tls-renew-check = 60
quota = "1G"
post-rate = 30
link-lifetime = 60
post-bytes-rate = "500M"
shutdown-grace = 3
log-level = "debug"
log-format = "json"
log-names = false
`;

const EVERY_VALUE: ServeConfig = {
  host: "127.0.0.2",
  port: 4321,
  "http-host": "127.0.0.3",
  "http-port": 4322,
  data: "/srv/sis",
  database: "postgres://sis@db.example:5432/sis",
  blobs: "s3://sis-blobs/images/?endpoint=https://s3.example",
  keys: "/srv/sis-keys",
  "max-image-size": 5 * 1024 * 1024,
  "cert-days": 30,
  "proxy-from": "10.0.0.2,2001:db8::7",
  "max-connections-per-address": 7,
  "idle-timeout": 300,
  "handshake-timeout": 20,
  "upload-stall-timeout": 60,
  "open-registration": true,
  "revocation-check": 5,
  "tls-cert-days": 90,
  "tls-renew-check": 60,
  quota: 1024 ** 3,
  "post-rate": 30,
  "link-lifetime": 60,
  "post-bytes-rate": 500 * 1024 ** 2,
  "shutdown-grace": 3,
  "log-level": "debug",
  "log-format": "json",
  "log-names": false,
};

describe("sis serve --config FILE", () => {
  test("a file with every key of the table sets every option", () => {
    expect(Object.keys(EVERY_VALUE).sort()).toEqual(SERVE_OPTIONS.map((o) => o.key).sort());
    for (const o of SERVE_OPTIONS) expect({ key: o.key, differs: EVERY_VALUE[o.key] !== o.default }).toEqual({ key: o.key, differs: true });
    expect(loadConfig({ file: file(EVERY_KEY), cwd: root })).toEqual(EVERY_VALUE);
  });

  test("a size may be a number of bytes or a string with K, M or G; a relative data directory is taken from the current one", () => {
    expect(loadConfig({ file: file('max-image-size = 4096\ndata = "here/data"\n'), cwd: root })).toMatchObject({ "max-image-size": 4096, data: join(root, "here/data") });
    expect(loadConfig({ file: file('max-image-size = "1G"\n'), cwd: root })["max-image-size"]).toBe(1024 ** 3);
  });

  test("an empty file gives the defaults", () => {
    expect(loadConfig({ file: file(""), cwd: root })).toEqual({ ...DEFAULT_CONFIG, data: join(root, "sis-data") });
  });

  test("an unknown key is refused with the file, its line and the key (exit 2)", () => {
    const r = refusal('port = 4321\n\n  prot = 4322\n');
    expect(r.exitCode).toBe(2);
    expect(r.message).toBe(`cannot read config ${r.path}: line 3: key "prot": not a setting of sis serve; fix it, or see 'sis serve --help' for the keys`);
  });

  test("a table is an unknown key too, named by the line of its header", () => {
    const r = refusal('port = 4321\n[server]\nport = 1\n');
    expect(r.message).toStartWith(`cannot read config ${r.path}: line 2: key "server": not a setting of sis serve`);
  });

  test("a bad value is refused with its line, key, what is allowed and what was given", () => {
    const port = refusal("# ports\nhttp-port = 8233\nport = 70000\n");
    expect(port.exitCode).toBe(2);
    expect(port.message).toBe(`cannot read config ${port.path}: line 3: key "port": takes a whole number from 0 to 65535, got 70000; fix it, or see 'sis serve --help' for the keys`);
    const idle = refusal(`idle-timeout = ${PING_INTERVAL_MS / 1000}\n`);
    expect(idle.message).toContain('line 1: key "idle-timeout": takes a whole number of seconds from 35 to 86400, got 30;');
    const size = refusal('max-image-size = "lots"\n');
    expect(size.message).toContain('line 1: key "max-image-size": takes a size in bytes from 1 to 262144G, such as 104857600, 100M or 1G, got "lots";');
    const kind = refusal('cert-days = "365"\n');
    expect(kind.message).toContain('line 1: key "cert-days": takes a whole number of days from 1 to 3650, got "365";');
    const empty = refusal('host = ""\n');
    expect(empty.message).toContain('line 1: key "host": takes a non-empty string, got "";');
  });

  test("several problems: the first by line is named, the others counted with their lines", () => {
    const r = refusal('zeta = 1\nport = -1\n"cert-days" = 0\n');
    expect(r.message).toBe(
      `cannot read config ${r.path}: line 1: key "zeta": not a setting of sis serve (and 2 more: line 2 "port", line 3 "cert-days"); fix it, or see 'sis serve --help' for the keys`,
    );
  });

  test("a TOML syntax error names the line it starts on", () => {
    const r = refusal('port = 4321\nhost = "127.0.0.1\ncert-days = 3\n');
    expect(r.message).toStartWith(`cannot read config ${r.path}: line 2: not valid TOML: `);
    const twice = refusal("port = 1\n\nport = 2\n");
    expect(twice.message).toStartWith(`cannot read config ${twice.path}: line 3: not valid TOML: Cannot redefine key 'port'`);
  });

  test("a missing file says so and what to give", () => {
    const path = join(root, "absent.toml");
    expect(() => loadConfig({ file: path })).toThrow(`cannot read config ${path}: no such file; give a TOML file ('sis serve --print-config' writes one)`);
  });

  test("keyLine() finds bare, quoted and dotted keys at the top level, and table headers, not keys inside a table", () => {
    const text = 'a = 1\n "b" = 2\nc.d = 3\n[t]\nport = 4\n[[u]]\n';
    expect([keyLine(text, "a"), keyLine(text, "b"), keyLine(text, "c"), keyLine(text, "t"), keyLine(text, "u"), keyLine(text, "port")]).toEqual([1, 2, 3, 4, 6, 0]);
  });
});

describe("flags", () => {
  test("flags override the file, key by key; the rest comes from the file, then the defaults", () => {
    const path = file('port = 4321\ncert-days = 30\n');
    const config = loadConfig({ file: path, flags: parseFlags({ port: "0", "max-image-size": "1K" }), cwd: root });
    expect(config).toEqual({ ...DEFAULT_CONFIG, data: join(root, "sis-data"), port: 0, "cert-days": 30, "max-image-size": 1024 });
  });

  test("a flag's value is held to the same range as the file's, and the message names the flag", () => {
    expect(() => parseFlags({ port: "70000" })).toThrow(new FlagError("--port takes a whole number from 0 to 65535"));
    expect(() => parseFlags({ "idle-timeout": "30" })).toThrow("--idle-timeout takes a whole number of seconds from 35 to 86400");
    expect(() => parseFlags({ "cert-days": "1.5" })).toThrow(FlagError);
    expect(() => parseFlags({ "max-image-size": "lots" })).toThrow("--max-image-size takes a size in bytes");
    expect(parseFlags({ "max-image-size": "100M", port: "1234", host: "::" })).toEqual({ "max-image-size": 100 * 1024 * 1024, port: 1234, host: "::" });
  });
});

describe("sis serve --print-config", () => {
  test("prints a config file that reads back to the same configuration, for the defaults and for every key set", () => {
    for (const config of [loadConfig({ cwd: root }), { ...EVERY_VALUE, "max-image-size": 4097 }, loadConfig({ file: file(EVERY_KEY), flags: { port: 0 }, cwd: root })]) {
      const text = printConfig(config);
      expect(loadConfig({ file: file(text), cwd: "/nowhere" })).toEqual(config);
    }
  });

  test("each key comes with its help and range as a comment", () => {
    const text = printConfig(loadConfig({ cwd: root }));
    for (const o of SERVE_OPTIONS) expect(text).toContain(`# ${o.help}`);
    expect(text).toContain('\n# TLS port of the protocol (P1); 0 picks a free one; a whole number from 0 to 65535 (default 1233)\nport = 1233\n');
    expect(text).toContain('\nmax-image-size = "100M"\n');
  });
});

describe("the table is the behaviour", () => {
  test("the defaults are those PROTOCOL.md, SECURITY.md and the README state", () => {
    expect(DEFAULT_CONFIG).toEqual({
      host: "127.0.0.1",
      port: 1233,
      "http-host": "127.0.0.1",
      "http-port": 8233,
      data: "./sis-data",
      database: "sqlite",
      blobs: "files",
      keys: "",
      "max-image-size": 100 * 1024 * 1024,
      "cert-days": 365,
      "proxy-from": "",
      "max-connections-per-address": 256,
      "idle-timeout": 120,
      "handshake-timeout": 10,
      "upload-stall-timeout": 30,
      "open-registration": false,
      "revocation-check": 2,
      "tls-cert-days": 397,
      "tls-renew-check": 3600,
      quota: 10 * 1024 ** 3,
      "post-rate": 120,
      "link-lifetime": 600,
      "post-bytes-rate": 2 * 1024 ** 3,
      "shutdown-grace": 10,
      "log-level": "info",
      "log-format": "auto",
      "log-names": true,
    });
  });

  test("the certificate profiles' lifetimes (src/pki/profiles.ts, what the CA issues when given none) are the table's cert-days and tls-cert-days", () => {
    // Spelled twice on purpose: --help reads the table without loading @peculiar/x509, which profiles.ts needs.
    expect({ user: PROFILES.user.lifetimeDays as number, tls: PROFILES.serverTls.lifetimeDays as number }).toEqual({ user: DEFAULT_CONFIG["cert-days"], tls: DEFAULT_CONFIG["tls-cert-days"] });
  });

  test("a client's address without a port uses the table's default port (P1)", () => {
    expect(parseServer("example.org")).toEqual({ host: "example.org", port: DEFAULT_CONFIG.port });
  });

  test("startServer() without limits runs with the table's defaults, and HELLO advertises its image size", async () => {
    using dir = tempDir("sis-config-server-");
    const server = await startServer({ dataDir: dir, host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: silentLogger, version: "test" });
    try {
      expect(server.context.limits).toEqual({
        maxImageSize: 100 * 1024 * 1024,
        maxConnectionsPerAddress: 256,
        certLifetimeDays: 365,
        handshakeTimeoutMs: 10_000,
        idleTimeoutMs: 120_000,
        uploadStallTimeoutMs: 30_000,
        quotaBytes: 10 * 1024 ** 3,
        postsPerMinute: 120,
        postBytesPerMinute: 2 * 1024 ** 3,
        linkLifetimeMs: 600_000,
        revocationCheckMs: 2_000,
        tlsCertDays: 397,
        tlsRenewCheckMs: 3_600_000,
      });
      expect(server.context.limits).toEqual(limitsOf(DEFAULT_CONFIG));
      expect(server.context.limits).toEqual({ ...DEFAULT_LIMITS });
      await using client = await rawConnect(server.port);
      expect((await helloAs(client)).limits.maxImageSize).toBe(DEFAULT_CONFIG["max-image-size"]);
    } finally {
      await server.stop();
    }
  });

  test("a limit given to startServer() replaces its default alone", async () => {
    using dir = tempDir("sis-config-server-");
    const server = await startServer({ dataDir: dir, host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: silentLogger, version: "test", limits: { maxImageSize: 4096, idleTimeoutMs: undefined } });
    try {
      expect(server.context.limits).toEqual({ ...DEFAULT_LIMITS, maxImageSize: 4096 });
    } finally {
      await server.stop();
    }
  });

  test("sis serve --help prints every option of the table with its default and range", () => {
    const help = COMMAND_HELP.serve!;
    expect(help).toStartWith("usage: sis serve ");
    for (const flag of ["--config FILE", "--print-config"]) expect(help).toContain(`\n  ${flag}\n`);
    expect(help).toContain("\n  --port N (default 1233)\n      TLS port of the protocol (P1); 0 picks a free one; a whole number from 0 to 65535\n");
    expect(help).toContain("\n  --max-image-size SIZE (default 100M)\n");
    expect(help).toContain("\n  --data DIR (default ./sis-data)\n");
    // A switch (kind "flag", --open-registration) takes no value, so it shows no metavar.
    for (const o of SERVE_OPTIONS) expect(help).toContain(`\n  --${o.key}${o.metavar ? ` ${o.metavar}` : ""} (default `);
  });
});

describe("--open-registration, a switch (M6)", () => {
  test("off by default; the bare flag turns it on; a file says true or false, and anything else is refused with its line", () => {
    expect(DEFAULT_CONFIG["open-registration"]).toBe(false);
    expect(parseFlags({ "open-registration": true })).toEqual({ "open-registration": true });
    const on = join(root, "open.toml");
    writeFileSync(on, "open-registration = true\n");
    expect(loadConfig({ file: on, cwd: root })["open-registration"]).toBe(true);
    const bad = join(root, "open-bad.toml");
    writeFileSync(bad, 'port = 1\nopen-registration = "yes"\n');
    expect(() => loadConfig({ file: bad, cwd: root })).toThrow(/line 2: key "open-registration": takes true or false/);
    expect(printConfig(loadConfig({ cwd: root }))).toContain("\nopen-registration = false\n");
  });
});

describe("--proxy-from, the balancers that send a PROXY header (PX4)", () => {
  test("none by default; a flag takes A,B, a file a list; each must be an IP address; serveOptionsOf gives the list", () => {
    expect(DEFAULT_CONFIG["proxy-from"]).toBe("");
    expect(serveOptionsOf(loadConfig({ cwd: root })).proxyFrom).toEqual([]);
    expect(parseFlags({ "proxy-from": "10.0.0.2, 10.0.0.3,10.0.0.2" })).toEqual({ "proxy-from": "10.0.0.2,10.0.0.3" });
    // How the listener sees a peer: an IPv4-mapped address as its dotted quad, IPv6 compressed.
    expect(parseFlags({ "proxy-from": "::ffff:10.0.0.9,0:0:0:0:0:0:0:1" })).toEqual({ "proxy-from": "10.0.0.9,::1" });
    expect(() => parseFlags({ "proxy-from": "10.0.0.2,haproxy.local" })).toThrow(new FlagError("--proxy-from takes IP addresses separated by commas (a list of strings in a file), such as 10.0.0.2,10.0.0.3, or nothing for none"));
    expect(() => parseFlags({ "proxy-from": "10.0.0.0/24" })).toThrow(FlagError);
    expect(() => parseFlags({ "proxy-from": "fe80::1%eth0" })).toThrow(FlagError);
    expect(serveOptionsOf(loadConfig({ file: file('proxy-from = ["10.0.0.2", "10.0.0.3"]\n'), cwd: root })).proxyFrom).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(refusal('port = 1\nproxy-from = ["10.0.0.2", 7]\n').message).toMatch(/line 2: key "proxy-from": takes IP addresses separated by commas/);
    expect(refusal('proxy-from = ["10.0.0.300"]\n').message).toMatch(/line 1: key "proxy-from": takes IP addresses/);
    expect(printConfig(loadConfig({ cwd: root }))).toContain("\nproxy-from = []\n");
    expect(printConfig(loadConfig({ flags: { "proxy-from": "10.0.0.2,::1" }, cwd: root }))).toContain('\nproxy-from = ["10.0.0.2","::1"]\n');
  });
});
