/** Argument parsing on node:util parseArgs: strict, so a mistyped flag is a usage error (exit 2). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseSize } from "../src/app/options.ts";

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

/** Sizes like 100M, 1G, 512K or plain bytes (the rule of src/app/options.ts, which sis serve's table uses). */
export function sizeOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = parseSize(value);
  if (n === null) throw new UsageError(`--${name} takes a size such as 104857600, 100M or 1G`);
  return n;
}
