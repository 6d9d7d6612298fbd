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
  const { run } = await import("./run.ts");
  return run(command as Command, rest);
}

process.exitCode = await main(process.argv.slice(2));
