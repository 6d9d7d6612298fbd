/** Every option of `sis serve`, once: its key (flag and config-file key), kind, default, range, unit and help; plain data for `--help`. */
import { MAX_PLAINTEXT_SIZE } from "../crypto/envelope-header.ts";
import { isIP } from "node:net";
import { DEFAULT_PORT, PING_INTERVAL_MS } from "../protocol/limits.ts";

/**
 * "flag": a switch, `--key` alone on the command line, `key = true` in a file; "bool": `--key=true|false`;
 * "addresses": IP addresses, `--key A,B` or `key = ["A", "B"]`, held as one canonical comma-separated string ("" for none).
 */
export type OptionKind = "string" | "int" | "size" | "enum" | "bool" | "flag" | "addresses";

export interface OptionSpec {
  /** The flag (`--key`) and the key of a `--config` file. */
  readonly key: string;
  readonly kind: OptionKind;
  readonly default: string | number | boolean;
  /** Inclusive bounds of a number (an int, or a size in bytes). */
  readonly min?: number;
  readonly max?: number;
  /** What an int counts, said in help and errors ("seconds", "days"). */
  readonly unit?: string;
  /** The values an enum takes. */
  readonly choices?: readonly string[];
  /** The value's placeholder in help. */
  readonly metavar: string;
  readonly help: string;
}

/** The idle deadline stays above the clients' PING interval, with 5 s for the round trip. */
const MIN_IDLE_S = PING_INTERVAL_MS / 1000 + 5;

export const SERVE_OPTIONS = [
  { key: "host", kind: "string", default: "127.0.0.1", metavar: "ADDR", help: "address the protocol listens on; 0.0.0.0 or :: for every interface" },
  { key: "port", kind: "int", default: DEFAULT_PORT, min: 0, max: 65535, metavar: "N", help: "TLS port of the protocol (P1); 0 picks a free one" },
  { key: "http-host", kind: "string", default: "127.0.0.1", metavar: "ADDR", help: "address of the HTTP side (/ca.pem /crl.pem /healthz /metrics)" },
  { key: "http-port", kind: "int", default: 8233, min: 0, max: 65535, metavar: "N", help: "port of the HTTP side; 0 picks a free one" },
  { key: "data", kind: "string", default: "./sis-data", metavar: "DIR", help: "data directory: CA, keys, database and images (made at the first start)" },
  { key: "database", kind: "string", default: "sqlite", metavar: "URL", help: "metadata store: sqlite (a file in the data directory) or postgres://USER@HOST:PORT/DB for several nodes (docs/SCALING.md); the password goes in PGPASSWORD, never in the URL" },
  { key: "blobs", kind: "string", default: "files", metavar: "URL", help: "image store: files (the blobs folder of the data directory) or s3://BUCKET[/PREFIX/]?endpoint=https://HOST for several nodes (docs/SCALING.md); the keys go in S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, never in the URL" },
  // Cluster mode (docs/SCALING.md): every node loads the keys 'sis admin init-cluster' made once, and makes none.
  { key: "keys", kind: "string", default: "", metavar: "DIR", help: "cluster keys made by 'sis admin init-cluster' (CA, storage, TSA, TLS), loaded and never created; empty: the data directory's own keys (with --database postgres they must exist there)" },
  // 2^48 is the envelope's own bound (ENVELOPE.md H4).
  { key: "max-image-size", kind: "size", default: 100 * 1024 ** 2, min: 1, max: MAX_PLAINTEXT_SIZE, metavar: "SIZE", help: "largest image accepted (its plaintext)" },
  { key: "cert-days", kind: "int", default: 365, min: 1, max: 3650, unit: "days", metavar: "N", help: "lifetime of a user certificate" },
  // Behind HAProxy (PX4, docs/SCALING.md): only these addresses may send a PROXY header, and they must.
  { key: "proxy-from", kind: "addresses", default: "", metavar: "ADDR[,ADDR...]", help: "balancer addresses (HAProxy with send-proxy-v2) whose connections start with a PROXY header giving the client's address; a PROXY header from any other address is refused; empty: none read" },
  { key: "max-connections-per-address", kind: "int", default: 256, min: 1, max: 1_000_000, metavar: "N", help: "open connections from one IP address" },
  { key: "idle-timeout", kind: "int", default: 120, min: MIN_IDLE_S, max: 86_400, unit: "seconds", metavar: "S", help: "a connection without a whole frame from its client is closed" },
  { key: "handshake-timeout", kind: "int", default: 10, min: 1, max: 300, unit: "seconds", metavar: "S", help: "time for the TLS handshake plus HELLO" },
  { key: "upload-stall-timeout", kind: "int", default: 30, min: 1, max: 3600, unit: "seconds", metavar: "S", help: "an upload without a data frame this long is abandoned" },
  // Renewal (RN8, RN9): the server's TLS certificate is replaced while running when a third of its lifetime is left.
  { key: "tls-cert-days", kind: "int", default: 397, min: 1, max: 397, unit: "days", metavar: "N", help: "lifetime of the server's TLS certificate; renewed while running once a third of it is left" },
  { key: "tls-renew-check", kind: "int", default: 3600, min: 1, max: 86_400, unit: "seconds", metavar: "S", help: "how often the TLS and time-stamping certificates (renewal) and the CA (a warning within a year of its end) are checked" },
  // Membership (M6): off by default, so a server is invitation-only unless its operator says otherwise.
  { key: "open-registration", kind: "flag", default: false, metavar: "", help: "let ANYONE who can reach the port create an account with just a name and a password (no invitation); for a closed network or a demo only" },
  { key: "revocation-check", kind: "int", default: 2, min: 1, max: 3600, unit: "seconds", metavar: "S", help: "how often open connections are checked against revocations (one indexed read)" },
  // Devices, quotas, deletion (PROTOCOL.md M25, M26): what one user may put on everyone's disk.
  { key: "quota", kind: "size", default: 10 * 1024 ** 3, min: 0, max: 1024 ** 5, metavar: "SIZE", help: "storage per user (the encrypted images, uploads under way included); 0 for none" },
  { key: "post-rate", kind: "int", default: 120, min: 0, max: 1_000_000, unit: "posts per minute", metavar: "N", help: "posts one user may start per minute; 0 for no limit" },
  { key: "link-lifetime", kind: "int", default: 600, min: 1, max: 86_400, unit: "seconds", metavar: "S", help: "how long a code from 'sis devices link' stays usable (once)" },
  { key: "post-bytes-rate", kind: "size", default: 2 * 1024 ** 3, min: 0, max: 1024 ** 5, metavar: "SIZE", help: "bytes one user may start uploading per minute (an image larger than this alone still passes); 0 for no limit" },
  // Operations (signals and logs, PROTOCOL.md O1–O4).
  { key: "shutdown-grace", kind: "int", default: 10, min: 0, max: 3600, unit: "seconds", metavar: "S", help: "on SIGTERM or SIGINT, uploads in progress get this long to finish before they are aborted" },
  { key: "log-level", kind: "enum", default: "info", choices: ["debug", "info", "warn", "error"], metavar: "LEVEL", help: "the least severe log lines written (SIGHUP rereads it from --config)" },
  { key: "log-format", kind: "enum", default: "auto", choices: ["auto", "json", "text"], metavar: "FORMAT", help: "log lines on stderr: one JSON object a line, or text; auto is text on a terminal, JSON otherwise" },
  { key: "log-names", kind: "bool", default: true, metavar: "BOOL", help: "log image names (false: images are logged by id and owner only)" },
] as const satisfies readonly OptionSpec[];

type Spec = (typeof SERVE_OPTIONS)[number];
export type OptionKey = Spec["key"];

/** The effective configuration of `sis serve`: one value per option, sizes in bytes, times in the option's unit. */
export type ServeConfig = { -readonly [S in Spec as S["key"]]: S["kind"] extends "string" | "enum" | "addresses" ? string : S["kind"] extends "bool" | "flag" ? boolean : number };

export const DEFAULT_CONFIG: Readonly<ServeConfig> = Object.freeze(Object.fromEntries(SERVE_OPTIONS.map((o) => [o.key, o.default])) as ServeConfig);

export function optionSpec(key: string): OptionSpec | undefined {
  return (SERVE_OPTIONS as readonly OptionSpec[]).find((o) => o.key === key);
}

/** Sizes like 100M, 1G, 512K (powers of 1024, case-insensitive, an optional i and B) or plain bytes; null if it is none. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] ?? "").toUpperCase()[0];
  const factor = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  return Number(m[1]) * factor;
}

/** The shortest exact spelling parseSize() reads back: 100M, 1G, 4097. */
export function formatSizeValue(bytes: number): string {
  for (const [suffix, factor] of [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}

/** What an option takes, as errors and help say it: "a whole number of seconds from 35 to 86400". */
export function allowed(o: OptionSpec): string {
  if (o.kind === "string") return "a non-empty string";
  if (o.kind === "addresses") return "IP addresses separated by commas (a list of strings in a file), such as 10.0.0.2,10.0.0.3, or nothing for none";
  if (o.kind === "enum") return `one of ${(o.choices ?? []).join(", ")}`;
  if (o.kind === "bool" || o.kind === "flag") return "true or false";
  if (o.kind === "size") return `a size in bytes from ${formatSizeValue(o.min ?? 0)} to ${formatSizeValue(o.max ?? Number.MAX_SAFE_INTEGER)}, such as 104857600, 100M or 1G`;
  return `a whole number${o.unit ? ` of ${o.unit}` : ""} from ${o.min ?? 0} to ${o.max ?? Number.MAX_SAFE_INTEGER}`;
}

/** An option's default as help shows it (sizes in their short form). */
export function shownDefault(o: OptionSpec): string {
  if (o.kind === "addresses") return o.default === "" ? "none" : String(o.default);
  return o.kind === "size" ? formatSizeValue(Number(o.default)) : String(o.default);
}

/**
 * An "addresses" value to its canonical form: each an IPv4 or IPv6 literal (IPv6 compressed and
 * lower-case, an IPv4-mapped one as its dotted quad: how the listener sees a peer), comma-joined
 * without duplicates; null when one of them is not an IP address. "" is none.
 */
export function canonicalAddresses(given: string | readonly string[]): string | null {
  const items = (typeof given === "string" ? given.split(",") : given).map((a) => a.trim()).filter((a) => a !== "");
  const out: string[] = [];
  for (const item of items) {
    const v = isIP(item);
    // A zone (fe80::1%eth0) names no address a PROXY peer could have here.
    if (v === 0 || item.includes("%")) return null;
    let a = v === 6 ? new URL(`http://[${item}]/`).hostname.slice(1, -1) : item;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) a = mapped[1]!;
    // The URL parser writes a mapped IPv4 address in hex (::ffff:a00:2): back to the dotted quad.
    const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
    if (hexMapped) {
      const hi = parseInt(hexMapped[1]!, 16), lo = parseInt(hexMapped[2]!, 16);
      a = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    if (!out.includes(a)) out.push(a);
  }
  return out.join(",");
}
