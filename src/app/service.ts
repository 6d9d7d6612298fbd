/** `sis serve` as a service: its log from the configuration, SIGTERM/SIGINT stop it gracefully (O1, O2), SIGHUP rereads what may change while it runs (O5). */
import { autoFormat, createLogger, LOG_LEVELS, type LogLevel, type ServerLogger } from "../server/logger.ts";
import { limitsOf, loadConfig } from "./config.ts";
import { formatSizeValue, optionSpec, SERVE_OPTIONS, type ServeConfig } from "./options.ts";
import type { RunningServer } from "./serve.ts";

/** The server log as the configuration says (--log-level, --log-format, --log-names), on stderr. */
export function serviceLogger(config: ServeConfig, write: (text: string) => void = (t) => process.stderr.write(t)): ServerLogger {
  return createLogger(write, { level: config["log-level"] as LogLevel, format: autoFormat(config["log-format"]), names: config["log-names"] });
}

/**
 * Keys a SIGHUP applies at once (O5): each is read from the context's limits object at each use
 * (the PostLimiter holds that same object, so quota and post rates change with it). The others are
 * read at start only: the addresses and ports, the data directory and stores, the log's format,
 * how often revocations and the TLS certificate are checked (timers set at start), and the TLS
 * certificate's lifetime (given to the renewal timer at start).
 */
export const RELOADABLE: ReadonlySet<string> = new Set([
  "log-level", "log-names", "max-image-size", "cert-days", "max-connections-per-address",
  "idle-timeout", "handshake-timeout", "upload-stall-timeout", "shutdown-grace",
  "quota", "post-rate", "post-bytes-rate", "link-lifetime",
]);

export interface ReloadOutcome {
  /** The configuration now in force: the new values of reloadable keys, the old ones of the rest. */
  config: ServeConfig;
  /** "log-level: info -> debug" for each key applied. */
  changed: string[];
  /** The same for each key that differs in the file but waits for a restart. */
  needsRestart: string[];
}

function shown(key: string, value: unknown): string {
  return optionSpec(key)?.kind === "size" ? formatSizeValue(Number(value)) : String(value);
}

/** Applies what may change to the running server and its log; the limits object is changed in place (handlers read it per use). */
export function applyReload(server: RunningServer, log: ServerLogger, current: ServeConfig, next: ServeConfig): ReloadOutcome {
  const config = { ...current } as Record<string, unknown>;
  const changed: string[] = [];
  const needsRestart: string[] = [];
  for (const { key } of SERVE_OPTIONS) {
    const before = (current as Record<string, unknown>)[key];
    const after = (next as Record<string, unknown>)[key];
    if (before === after) continue;
    const line = `${key}: ${shown(key, before)} -> ${shown(key, after)}`;
    if (!RELOADABLE.has(key)) {
      needsRestart.push(line);
      continue;
    }
    config[key] = after;
    changed.push(line);
  }
  const applied = config as ServeConfig;
  const { revocationCheckMs: _timer, ...limits } = limitsOf(applied);
  Object.assign(server.context.limits, limits);
  log.setLevel(applied["log-level"] as LogLevel);
  log.setNames(applied["log-names"]);
  return { config: applied, changed, needsRestart };
}

export interface ServiceOptions {
  server: RunningServer;
  log: ServerLogger;
  config: ServeConfig;
  /** The --config file SIGHUP rereads (flags still override it); none: SIGHUP changes nothing. */
  file?: string;
  flags: Partial<ServeConfig>;
}

/** Runs until SIGTERM or SIGINT, reloading on SIGHUP; then drains and stops the server. Returns the signal. */
export async function runService(opts: ServiceOptions): Promise<NodeJS.Signals> {
  const { server, log } = opts;
  let config = opts.config;
  const onHangup = () => {
    if (opts.file === undefined) {
      log.warn("SIGHUP: nothing to reload, the server was started without --config; flags change with a restart");
      return;
    }
    let next: ServeConfig;
    try {
      next = loadConfig({ file: opts.file, flags: opts.flags });
    } catch (error) {
      log.error("SIGHUP: cannot reload the configuration; the running one is kept", { file: opts.file, error: (error as Error).message });
      return;
    }
    const before = log.level;
    const outcome = applyReload(server, log, config, next);
    config = outcome.config;
    // Written at the more verbose of the two levels: a reload that raises the level to warn still says so.
    const after = log.level;
    if (LOG_LEVELS.indexOf(before) < LOG_LEVELS.indexOf(after)) log.setLevel(before);
    log.info(outcome.changed.length + outcome.needsRestart.length === 0 ? "SIGHUP: configuration reread; nothing changed" : "SIGHUP: configuration reloaded", {
      file: opts.file,
      changed: outcome.changed,
      needsRestart: outcome.needsRestart,
    });
    log.setLevel(after);
  };
  let stopping = false;
  // Kept during the drain too: a SIGHUP then is ignored, not the default end of the process.
  process.on("SIGHUP", () => {
    if (!stopping) onHangup();
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals) => () => {
      // Gone after the first: a second SIGTERM or SIGINT during the drain ends the process at once (O2).
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = stop("SIGINT");
    const onTerm = stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
  stopping = true;
  await server.shutdown(1000 * config["shutdown-grace"], signal);
  return signal;
}
