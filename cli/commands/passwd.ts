/** sis passwd: change your password on the server (the work is src/client/passwd.ts). */
import { Home, resolveHome } from "../../src/client/home.ts";
import { ClientError } from "../../src/client/errors.ts";
import { changePassword } from "../../src/client/passwd.ts";
import { passwordProblem } from "../../src/protocol/index.ts";
import { parse, UsageError } from "../args.ts";
import { promptHidden } from "../password.ts";
import { readStdinLine } from "../stdin-lines.ts";

export async function passwd(args: string[]): Promise<number> {
  const { values } = parse(args, { home: { type: "string" }, "password-stdin": { type: "boolean", default: false } });
  const creds = await new Home(resolveHome(values.home)).credentials();
  const { current, next } = await readBoth(values["password-stdin"]);
  const weak = passwordProblem(next);
  if (weak) throw new ClientError(`cannot change the password: ${weak}`);
  const user = await changePassword(creds, current, next);
  process.stdout.write(`password changed for ${user} at ${creds.profile.server}\n`);
  return 0;
}

/** Like register's rules: stdin (current, then new), SIS_PASSWORD and SIS_NEW_PASSWORD, or prompts with echo off. */
async function readBoth(stdin: boolean): Promise<{ current: string; next: string }> {
  if (stdin) return { current: (await readStdinLine()) ?? "", next: (await readStdinLine()) ?? "" };
  const envCurrent = process.env.SIS_PASSWORD;
  const envNext = process.env.SIS_NEW_PASSWORD;
  if (envCurrent && envNext) return { current: envCurrent, next: envNext };
  if (!process.stdin.isTTY) throw new UsageError("no passwords: use --password-stdin (current, then new, one a line) or SIS_PASSWORD and SIS_NEW_PASSWORD when not on a terminal");
  const current = await promptHidden("current password: ");
  const next = await promptHidden("new password: ");
  if ((await promptHidden("new password again: ")) !== next) throw new UsageError("the two new passwords differ");
  return { current, next };
}
