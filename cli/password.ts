/** Passwords: SIS_PASSWORD, the first line of stdin (--password-stdin), or a prompt with echo off. */
import { spawnSync } from "node:child_process";
import { UsageError } from "./args.ts";
import { readStdinLine } from "./stdin-lines.ts";

async function firstLineOfStdin(): Promise<string> {
  return (await readStdinLine()) ?? "";
}

function stty(arg: string): void {
  spawnSync("stty", [arg], { stdio: ["inherit", "ignore", "ignore"] });
}

export async function promptHidden(question: string): Promise<string> {
  // Echo off before the prompt is shown: whoever types as soon as they see it is not echoed.
  stty("-echo");
  process.stderr.write(question);
  try {
    return await firstLineOfStdin();
  } finally {
    stty("echo");
    process.stderr.write("\n");
  }
}

export async function readPassword(opts: { stdin: boolean; confirm: boolean }): Promise<string> {
  if (opts.stdin) return firstLineOfStdin();
  const fromEnv = process.env.SIS_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) throw new UsageError("no password: use --password-stdin or SIS_PASSWORD when not on a terminal");
  const first = await promptHidden("password: ");
  if (opts.confirm) {
    const again = await promptHidden("password again (for a new user): ");
    if (again !== first) throw new UsageError("the two passwords differ");
  }
  return first;
}

export async function askYesNo(question: string): Promise<boolean> {
  process.stderr.write(question);
  const answer = await firstLineOfStdin();
  return /^y(es)?$/i.test(answer.trim());
}
