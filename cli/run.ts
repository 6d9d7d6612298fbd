/** Runs one command and turns any error into `sis: cannot …` on stderr and an exit code. */
// Before any command module loads @peculiar/x509 (its DI container needs the Reflect polyfill).
import "reflect-metadata";
import { ClientError } from "../src/client/errors.ts";
import { Home } from "../src/client/home.ts";
import { expiryWarning } from "../src/client/expiry.ts";
import { errorLine } from "./error-line.ts";

type Runner = (args: string[]) => Promise<number>;

const LOADERS: Record<string, () => Promise<Runner>> = {
  serve: async () => (await import("./commands/serve.ts")).serve,
  register: async () => (await import("./commands/register.ts")).registerCommand,
  renew: async () => (await import("./commands/renew.ts")).renewCommand,
  whoami: async () => (await import("./commands/whoami.ts")).whoami,
  post: async () => (await import("./commands/post.ts")).post,
  list: async () => (await import("./commands/list.ts")).list,
  get: async () => (await import("./commands/get.ts")).get,
  watch: async () => (await import("./commands/watch.ts")).watchCommand,
  admin: async () => (await import("./commands/admin.ts")).admin,
  demo: async () => (await import("./commands/demo.ts")).demo,
  gallery: async () => (await import("./commands/gallery.ts")).gallery,
  devices: async () => (await import("./commands/devices.ts")).devices,
  rm: async () => (await import("./commands/rm.ts")).rm,
  passwd: async () => (await import("./commands/passwd.ts")).passwd,
};

export async function run(command: string, args: string[]): Promise<number> {
  // RN6: every command that loads the user's certificate warns on stderr when it ends within 30 days.
  Home.expiryNotice = (profile) => {
    const warning = expiryWarning(profile);
    if (warning) process.stderr.write(warning);
  };
  try {
    const runner = await LOADERS[command]!();
    return await runner(args);
  } catch (error) {
    return report(command, error);
  }
}

export function report(command: string, error: unknown): number {
  const { line, exitCode } = errorLine(command, error);
  process.stderr.write(line);
  if (exitCode === 1 && !(error instanceof ClientError) && process.env.SIS_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
  return exitCode;
}
