#!/usr/bin/env bun
/** sis entry point: answers --version and --help before loading anything heavy, then dispatches. */
import { COMMAND_HELP, USAGE } from "./help.ts";
import { VERSION } from "./version.ts";

const COMMANDS = ["serve", "register", "renew", "whoami", "post", "list", "get", "watch", "admin", "demo", "gallery", "devices", "rm", "passwd"] as const;
type Command = (typeof COMMANDS)[number];

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE + "\n");
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`sis ${VERSION}\n`);
    return 0;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    process.stderr.write(`sis: cannot run '${command}': no such command; run 'sis --help' for the list\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(COMMAND_HELP[command] + "\n");
    return 0;
  }
  const { run } = await import("./run.ts");
  return run(command as Command, rest);
}

process.exitCode = await main(process.argv.slice(2));
