/** Where a link code comes from (M22): SIS_LINK_CODE, else the first line of stdin (a prompt on a terminal); never the command line. */
import { UsageError } from "./args.ts";
import { readStdinLine } from "./stdin-lines.ts";

export async function readLinkCode(flag: string): Promise<string> {
  // On the command line a code is readable by every user of this machine (ps) while it is still unused.
  if (flag !== "-") throw new UsageError("give the link code as --link - and type or pipe it (or set SIS_LINK_CODE), not on the command line, where other users of this machine can read it");
  const fromEnv = process.env.SIS_LINK_CODE;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return fromEnv.trim();
  if (process.stdin.isTTY) process.stderr.write("link code (from 'sis devices link' on your other device): ");
  const line = (await readStdinLine())?.trim() ?? "";
  if (line === "") throw new UsageError("no link code: type it, pipe it to --link -, or set SIS_LINK_CODE");
  return line;
}
