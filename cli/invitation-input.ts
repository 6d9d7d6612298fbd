/** Where an invitation comes from (M4): `--invite -` (stdin's first line, or a hidden prompt on a terminal), SIS_INVITE, or the flag's value. */
import { parseInvitation, type Invitation } from "../src/protocol/index.ts";
import { UsageError } from "./args.ts";
import { promptHidden } from "./password.ts";
import { readStdinLine } from "./stdin-lines.ts";

/** Null when no invitation was asked for (no --invite, no SIS_INVITE). */
export async function readInvitation(flag: string | undefined): Promise<Invitation | null> {
  let text: string | undefined;
  if (flag === "-") text = process.stdin.isTTY ? await promptHidden("invitation: ") : ((await readStdinLine()) ?? "");
  else if (flag !== undefined) text = flag;
  else if (process.env.SIS_INVITE) text = process.env.SIS_INVITE;
  if (text === undefined) return null;
  const invitation = parseInvitation(text);
  // Never echoed back: the text may be a real invitation with one character wrong.
  if (!invitation) throw new UsageError("that is not an invitation: it looks like sis1:HOST:PORT:FINGERPRINT:SECRET, one line as 'sis admin invite' printed it");
  return invitation;
}
