/** The server log: one line per event on stderr; internal causes go here, never to the peer. */

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function line(level: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields ? " " + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`).join(" ") : "";
  return `${new Date().toISOString()} ${level} ${message}${extra}\n`;
}

export function createLogger(write: (text: string) => void = (t) => process.stderr.write(t), quiet = false): Logger {
  return {
    info: (m, f) => { if (!quiet) write(line("info", m, f)); },
    warn: (m, f) => write(line("warn", m, f)),
    error: (m, f) => write(line("error", m, f)),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
