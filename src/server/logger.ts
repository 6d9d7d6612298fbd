/** The server log: one line per event on stderr (JSON or text, with levels); internal causes go here, never to the peer (O10–O13). */

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "json" | "text";

export interface LoggerOptions {
  /** The least severe level written (info by default). */
  level?: LogLevel;
  /** json: one object a line ({"time","level","msg",...fields}); text: `TIME LEVEL message k=v` (the default). */
  format?: LogFormat;
  /** False: the field `name` (an image name, by convention of every caller) is left out (O12). */
  names?: boolean;
}

/** A logger whose level and name policy a reload (SIGHUP) may change. */
export interface ServerLogger extends Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly names: boolean;
  setLevel(level: LogLevel): void;
  setNames(names: boolean): void;
}

/**
 * Field keys whose values are never written, whatever a caller passes (O13):
 * a safety net under the rule that no caller logs a secret.
 */
const SECRET_KEY = /pass(word|phrase|wd)?|secret|token|private|pkcs8|pem$|invitation/i;

function clean(fields: Record<string, unknown> | undefined, names: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields) return out;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (key === "name" && !names) continue;
    if (SECRET_KEY.test(key)) out[key] = "[redacted]";
    else if (value instanceof Uint8Array) out[key] = `[${value.length} bytes]`;
    else if (value instanceof Error) out[key] = value.message;
    else out[key] = value;
  }
  return out;
}

function textLine(time: string, level: string, message: string, fields: Record<string, unknown>): string {
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === "string" ? JSON.stringify(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join("");
  return `${time} ${level} ${message}${extra}\n`;
}

const ENVELOPE = new Set(["time", "level", "msg"]);

function jsonLine(time: string, level: string, message: string, fields: Record<string, unknown>): string {
  // The envelope keys first; a field of the same name cannot replace them (it is written as field_time…).
  const line: Record<string, unknown> = { time, level, msg: message };
  for (const [key, value] of Object.entries(fields)) line[ENVELOPE.has(key) ? `field_${key}` : key] = value;
  return JSON.stringify(line) + "\n";
}

/**
 * `options` may be a boolean for the older form `createLogger(write, quiet)`:
 * quiet writes warnings and errors only.
 */
export function createLogger(write: (text: string) => void = (t) => process.stderr.write(t), options: boolean | LoggerOptions = {}): ServerLogger {
  const opts: LoggerOptions = typeof options === "boolean" ? { level: options ? "warn" : "info" } : options;
  let threshold = LOG_LEVELS.indexOf(opts.level ?? "info");
  let names = opts.names ?? true;
  const format = opts.format ?? "text";
  const render = format === "json" ? jsonLine : textLine;
  const at = (level: LogLevel) => {
    const rank = LOG_LEVELS.indexOf(level);
    return (message: string, fields?: Record<string, unknown>) => {
      if (rank < threshold) return;
      write(render(new Date().toISOString(), level, message, clean(fields, names)));
    };
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    get level() {
      return LOG_LEVELS[threshold]!;
    },
    format,
    get names() {
      return names;
    },
    setLevel(level) {
      threshold = LOG_LEVELS.indexOf(level);
    },
    setNames(value) {
      names = value;
    },
  };
}

/** json or text for `--log-format auto`: text for a person at a terminal, JSON for a journal or a file. */
export function autoFormat(choice: string, isTty: boolean = Boolean(process.stderr.isTTY)): LogFormat {
  return choice === "json" || choice === "text" ? choice : isTty ? "text" : "json";
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
