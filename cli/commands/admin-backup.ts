/** sis admin backup / verify-backup / restore: argument parsing and output; the work is in src/app. */
import { assertBackupable } from "../../src/app/admin-place.ts";
import { backup, type BackupLogFields } from "../../src/app/backup.ts";
import { restore } from "../../src/app/restore.ts";
import { verifyBackup } from "../../src/app/verify-backup.ts";
import { parse, UsageError } from "../args.ts";
import { promptHidden } from "../password.ts";
import { readStdinLine } from "../stdin-lines.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_CONFIG } from "../../src/app/options.ts";

/** The passphrase: a prompt with echo off on a terminal, else the first line of stdin. Never argv. */
function passphraseFrom(confirm: boolean): () => Promise<string> {
  return async () => {
    let phrase: string;
    if (process.stdin.isTTY) {
      phrase = await promptHidden("backup passphrase: ");
      if (confirm && (await promptHidden("backup passphrase again: ")) !== phrase) throw new UsageError("the two passphrases differ");
    } else {
      phrase = (await readStdinLine()) ?? "";
    }
    if (phrase === "") throw new UsageError("no passphrase: type it at the prompt, or give it as the first line of stdin");
    return phrase;
  };
}

function fail(what: string, err: unknown): number {
  if (err instanceof UsageError) throw err;
  process.stderr.write(`sis: cannot ${what}: ${(err as Error).message}\n`);
  return 1;
}

export async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string", default: DEFAULT_CONFIG.data }, database: { type: "string" }, blobs: { type: "string" }, encrypt: { type: "boolean", default: false } }, { min: 1, max: 1 });
  const dest = positionals[0]!;
  assertBackupable(values); // PostgreSQL and S3 are backed up with their own tools
  try {
    // One JSON object a line, as the server's log (SECURITY.md O10): time, level, msg first, then the facts.
    const log = (msg: string, fields: BackupLogFields) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: "info", msg, event: "backup", ...fields })}\n`);
    const r = await backup({ dest, data: values.data, passphrase: values.encrypt ? passphraseFrom(true) : null, sisVersion: VERSION, log });
    process.stdout.write(`backup ${r.snapshot}: ${r.images} images; ${r.copied} blobs copied, ${r.reused} unchanged${r.vanished ? `, ${r.vanished} deleted meanwhile left out` : ""}\n`);
    return 0;
  } catch (err) {
    return fail(`back up ${values.data} into ${dest}`, err);
  }
}

export async function verifyBackupCommand(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, { min: 1, max: 1 });
  const dest = positionals[0]!;
  try {
    const r = await verifyBackup({ dest, passphrase: passphraseFrom(false) });
    if (r.problems.length > 0) {
      for (const p of r.problems) process.stderr.write(`sis: backup ${r.manifest.snapshot}: ${p}\n`);
      process.stderr.write(`sis: cannot verify backup ${dest}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}; take a new backup into a new directory\n`);
      return 3;
    }
    process.stdout.write(`backup ${r.manifest.snapshot} (${r.manifest.created}) is sound: ${r.files} files, ${r.bytes} bytes, ${r.manifest.images} images\n`);
    return 0;
  } catch (err) {
    return fail(`verify backup ${dest}`, err);
  }
}

export async function restoreCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string" } }, { min: 1, max: 1 });
  if (!values.data) throw new UsageError("give --data DIR: the new data directory to restore into");
  const dest = positionals[0]!;
  try {
    const r = await restore({ dest, data: values.data, passphrase: passphraseFrom(false) });
    process.stdout.write(`restored backup ${r.snapshot} (${r.created}) into ${values.data}: ${r.images} images; start it with: sis serve --data ${values.data}\n`);
    return 0;
  } catch (err) {
    return fail(`restore ${dest} into ${values.data}`, err);
  }
}
