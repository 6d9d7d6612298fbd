/** `sis serve`'s effective configuration: defaults < a TOML file < flags, validated by a zod schema derived from SERVE_OPTIONS, printed back as TOML. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { ClientError } from "../client/errors.ts";
import type { ServerLimits } from "../server/context.ts";
import { allowed, canonicalAddresses, DEFAULT_CONFIG, formatSizeValue, optionSpec, parseSize, SERVE_OPTIONS, type OptionSpec, type ServeConfig } from "./options.ts";

/** One option's value, the same rule for a flag and a file; every message says what is allowed. */
function valueSchema(o: OptionSpec): z.ZodType<string | number | boolean> {
  const error = `takes ${allowed(o)}`;
  if (o.kind === "flag") return z.boolean({ error });
  // A string whose default is empty ("keys": none given) may be written back empty.
  if (o.kind === "string") return o.default === "" ? z.string({ error }) : z.string({ error }).min(1, { error });
  if (o.kind === "enum") return z.enum(o.choices as [string, ...string[]], { error });
  // A flag gives "A,B", a file a list of strings (or the same string).
  if (o.kind === "addresses") {
    return z.union([z.string(), z.array(z.string())], { error }).transform((v, ctx) => {
      const canonical = canonicalAddresses(v);
      if (canonical === null) {
        ctx.addIssue({ code: "custom", message: error });
        return z.NEVER;
      }
      return canonical;
    });
  }
  // A flag gives the words, a file a TOML boolean.
  if (o.kind === "bool") return z.union([z.boolean(), z.enum(["true", "false"])], { error }).transform((v) => v === true || v === "true");
  const int = z.int({ error }).min(o.min ?? 0, { error }).max(o.max ?? Number.MAX_SAFE_INTEGER, { error });
  if (o.kind === "int") return int;
  return z
    .union([z.int(), z.string()], { error })
    .transform((v, ctx) => {
      const n = typeof v === "number" ? v : parseSize(v);
      if (n === null) {
        ctx.addIssue({ code: "custom", message: error });
        return z.NEVER;
      }
      return n;
    })
    .pipe(int);
}

const VALUES = new Map<string, z.ZodType<string | number | boolean>>(SERVE_OPTIONS.map((o) => [o.key, valueSchema(o)]));

/** A config file: every key optional, an unknown key refused. */
export const CONFIG_SCHEMA = z.strictObject(Object.fromEntries(SERVE_OPTIONS.map((o) => [o.key, valueSchema(o).optional()])));

/** A flag's value was refused; the message names the flag and what it takes. */
export class FlagError extends Error {
  override readonly name = "FlagError";
}

/** Flag strings (as parseArgs gives them) to values; `--port 70000` → FlagError("--port takes a whole number from 0 to 65535"). */
export function parseFlags(raw: Record<string, string | boolean | undefined>): Partial<ServeConfig> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, text] of Object.entries(raw)) {
    const o = optionSpec(key);
    if (text === undefined || !o) continue;
    // A switch (kind "flag") arrives from parseArgs as true.
    if (typeof text === "boolean") {
      if (o.kind === "flag") out[key] = text;
      continue;
    }
    const n = Number(text);
    const value = o.kind === "int" && text.trim() !== "" && !Number.isNaN(n) ? n : text;
    const r = VALUES.get(o.key)!.safeParse(value);
    if (!r.success) throw new FlagError(`--${key} ${r.error.issues[0]!.message}`);
    out[key] = r.data;
  }
  return out as Partial<ServeConfig>;
}

/** The 1-based line where `key` is set at the top level of a TOML text (or names a table); 0 if none. */
export function keyLine(text: string, key: string): number {
  const k = key.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  const name = `(?:${k}|"${k}"|'${k}')`;
  const assign = new RegExp(`^\\s*${name}\\s*[.=]`);
  const table = new RegExp(`^\\s*\\[\\[?\\s*${name}\\s*[\\].]`);
  let topLevel = true;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (table.test(line)) return i + 1;
    if (/^\s*\[/.test(line)) topLevel = false;
    else if (topLevel && assign.test(line)) return i + 1;
  }
  return 0;
}

/** Bun.TOML.parse names no line: the first line after the longest prefix that still parses. */
function syntaxLine(text: string): number {
  const lines = text.split(/\r?\n/);
  for (let n = lines.length - 1; n >= 0; n--) {
    try {
      Bun.TOML.parse(lines.slice(0, n).join("\n"));
      return n + 1;
    } catch {
      // Still broken above this line.
    }
  }
  return 1;
}

function configError(file: string, line: number, reason: string): ClientError {
  return new ClientError(`cannot read config ${file}: ${line > 0 ? `line ${line}: ` : ""}${reason}; fix it, or see 'sis serve --help' for the keys`, 2);
}

/** The values a TOML file sets; a syntax error, unknown key or bad value is a ClientError naming the file, line and key. */
export function readConfigFile(file: string): Partial<ServeConfig> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (error as Error).message;
    throw new ClientError(`cannot read config ${file}: ${reason}; give a TOML file ('sis serve --print-config' writes one)`, 2);
  }
  let parsed: unknown;
  try {
    parsed = Bun.TOML.parse(text);
  } catch (error) {
    throw configError(file, syntaxLine(text), `not valid TOML: ${(error as Error).message.replace(/^TOML Parse error: /, "")}`);
  }
  const r = CONFIG_SCHEMA.safeParse(parsed);
  if (r.success) return r.data as Partial<ServeConfig>;
  const problems = r.error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ key, reason: "not a setting of sis serve" }));
    const key = String(issue.path[0]);
    return [{ key, reason: `${issue.message}, got ${JSON.stringify((parsed as Record<string, unknown>)[key])}` }];
  });
  const located = problems.map((p) => ({ ...p, line: keyLine(text, p.key) })).sort((a, b) => a.line - b.line);
  const first = located[0]!;
  const more = located.length > 1 ? ` (and ${located.length - 1} more: ${located.slice(1).map((p) => `line ${p.line} "${p.key}"`).join(", ")})` : "";
  throw configError(file, first.line, `key "${first.key}": ${first.reason}${more}`);
}

/** defaults < file < flags; `data` is made absolute against `cwd` (a relative one in the file too, as for the flag). */
export function loadConfig(opts: { file?: string; flags?: Partial<ServeConfig>; cwd?: string }): ServeConfig {
  const fromFile = opts.file !== undefined ? readConfigFile(opts.file) : {};
  const config: ServeConfig = { ...DEFAULT_CONFIG, ...defined(fromFile), ...defined(opts.flags ?? {}) };
  config.data = resolve(opts.cwd ?? process.cwd(), config.data);
  if (config.keys !== "") config.keys = resolve(opts.cwd ?? process.cwd(), config.keys);
  return config;
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The configuration as a TOML file that loadConfig() reads back to the same values, each key with its help. */
export function printConfig(config: ServeConfig): string {
  const lines = ["# sis serve: the effective configuration (sis serve --print-config).", "# Use it with 'sis serve --config FILE'; every key is optional, and a flag overrides the file.", ""];
  for (const o of SERVE_OPTIONS as readonly OptionSpec[]) {
    const value = (config as Record<string, string | number | boolean>)[o.key]!;
    lines.push(`# ${o.help}${o.kind === "string" ? "" : `; ${allowed(o)}`} (default ${o.kind === "size" ? formatSizeValue(Number(o.default)) : JSON.stringify(o.default)})`);
    lines.push(`${o.key} = ${tomlValue(o, value)}`);
    lines.push("");
  }
  return lines.join("\n");
}

function tomlValue(o: OptionSpec, value: string | number | boolean): string {
  if (o.kind === "string" || o.kind === "enum") return JSON.stringify(value);
  if (o.kind === "size") return JSON.stringify(formatSizeValue(Number(value)));
  if (o.kind === "addresses") return JSON.stringify(addressList(String(value)));
  return String(value);
}

/** An "addresses" value ("A,B", "" for none) as a list. */
export function addressList(value: string): string[] {
  return value === "" ? [] : value.split(",");
}

/** The server's policy from a configuration (times in ms). */
export function limitsOf(config: ServeConfig): ServerLimits {
  return {
    maxImageSize: config["max-image-size"],
    maxConnectionsPerAddress: config["max-connections-per-address"],
    certLifetimeDays: config["cert-days"],
    handshakeTimeoutMs: 1000 * config["handshake-timeout"],
    idleTimeoutMs: 1000 * config["idle-timeout"],
    uploadStallTimeoutMs: 1000 * config["upload-stall-timeout"],
    revocationCheckMs: 1000 * config["revocation-check"],
    tlsCertDays: config["tls-cert-days"],
    tlsRenewCheckMs: 1000 * config["tls-renew-check"],
    quotaBytes: config.quota,
    postsPerMinute: config["post-rate"],
    postBytesPerMinute: config["post-bytes-rate"],
    linkLifetimeMs: 1000 * config["link-lifetime"],
  };
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze(limitsOf(DEFAULT_CONFIG));

/** Where a configuration puts the server: what startServer() takes, less version and log (the caller adds them). */
export interface ServePlacement {
  dataDir: string;
  host: string;
  port: number;
  httpHost: string;
  httpPort: number | null;
  limits: ServerLimits;
  /** "sqlite", or a postgres:// URL (docs/SCALING.md). */
  database: string;
  /** "files", or an s3:// URL (docs/SCALING.md, "Blobs on S3"). */
  blobs: string;
  /** Membership (M6): anyone may create an account, no invitation needed. */
  openRegistration: boolean;
  /** Cluster keys (docs/SCALING.md): a directory made by 'sis admin init-cluster'; undefined: the data directory's. */
  keys?: string;
  /** Balancers that send a PROXY header (--proxy-from, PX4); empty: none read. */
  proxyFrom: string[];
}

/** What startServer() takes, from a configuration (the caller adds version and log). */
export function serveOptionsOf(config: ServeConfig): ServePlacement {
  return { dataDir: config.data, host: config.host, port: config.port, httpHost: config["http-host"], httpPort: config["http-port"], limits: limitsOf(config), database: config.database, blobs: config.blobs, openRegistration: config["open-registration"], proxyFrom: addressList(config["proxy-from"]), ...(config.keys !== "" && { keys: config.keys }) };
}
