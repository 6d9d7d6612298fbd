/** Argument parsing on node:util parseArgs: strict, so a mistyped flag is a usage error (exit 2). */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<O extends Options>(args: string[], options: O, positionals: { min?: number; max?: number } = {}) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify.*$/s, "").toLowerCase());
  }
  const n = parsed.positionals.length;
  if (n < (positionals.min ?? 0)) throw new UsageError("missing argument");
  if (n > (positionals.max ?? 0)) throw new UsageError(`unexpected argument '${parsed.positionals[positionals.max ?? 0]}'`);
  return parsed;
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} takes a whole number from ${min} to ${max}`);
  return n;
}

/** Sizes like 100M, 1G, 512K or plain bytes. */
export function sizeOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`--${name} takes a size such as 104857600, 100M or 1G`);
  const unit = (m[2] ?? "").toUpperCase()[0];
  const factor = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  return Number(m[1]) * factor;
}
