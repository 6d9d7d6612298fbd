#!/usr/bin/env bun
/**
 * sis entry point: answers --version before loading anything else, --help before loading anything
 * heavy, then dispatches. Only version.ts is imported statically: the help texts pull in
 * src/app/options.ts and with it node:crypto and node:net, whose set-up was about 3 of the 20 ms
 * of CPU a compiled `sis --version` takes (bench/README.md, *Issue 17: the watcher's memory and
 * start-up*).
 */
import { VERSION } from "./version.ts";

const COMMANDS = ["serve", "register", "renew", "whoami", "post", "list", "get", "watch", "admin", "demo", "gallery", "devices", "rm", "passwd"] as const;
type Command = (typeof COMMANDS)[number];

/**
 * The commands that keep running (a server, a watch): JavaScriptCore's normal JIT policy, their
 * hot paths run for hours. The others are a burst of code that mostly runs once, so JSC's
 * tier-up thresholds are scaled by SHORT_JIT_POLICY: a 10 MiB `sis post` spent 8 of its 55 ms of
 * CPU compiling, on the core the server and the watch need (bench/README.md, "Issue 17 on a fifth
 * machine"); with 10 it uses 44–47 ms, and an album's post 12.0–12.2 ms an image instead of 13.0–13.7.
 */
const LONG_RUNNING: ReadonlySet<Command> = new Set(["serve", "watch", "gallery", "demo"]);
const SHORT_JIT_POLICY = 10;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`sis ${VERSION}\n`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const { USAGE } = await import("./help.ts");
    process.stdout.write(USAGE + "\n");
    return command === undefined ? 2 : 0;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    process.stderr.write(`sis: cannot run '${command}': no such command; run 'sis --help' for the list\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const { COMMAND_HELP } = await import("./help.ts");
    process.stdout.write(COMMAND_HELP[command] + "\n");
    return 0;
  }
  if (!LONG_RUNNING.has(command as Command)) Bun.unsafe.setJITPolicy(SHORT_JIT_POLICY);
  const { run } = await import("./run.ts");
  return run(command as Command, rest);
}

process.exitCode = await main(process.argv.slice(2));
