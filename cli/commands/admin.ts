/** sis admin: revoke certificates and list them, on the data directory (the work is src/app/admin.ts). */
import { AdminError, certStatuses, revokeSerial, revokeUser } from "../../src/app/admin.ts";
import { DEFAULT_CONFIG } from "../../src/app/options.ts";
import { parse, UsageError } from "../args.ts";
import { table } from "../format.ts";
import { membershipCommand } from "./admin-members.ts";

export async function admin(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === "revoke") return await revoke(rest);
    if (sub === "certs") return await certs(rest);
    // Membership (h14): invite, invitations, users, disable, enable, delete.
    const member = membershipCommand(sub);
    if (member) return await member(rest);
  } catch (error) {
    throw error instanceof AdminError ? new UsageError(error.message) : error;
  }
  throw new UsageError(sub ? `no admin command '${sub}'` : "say 'revoke', 'certs', 'invite', 'invitations', 'users', 'disable', 'enable' or 'delete'");
}

async function revoke(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string", default: DEFAULT_CONFIG.data }, serial: { type: "string" } }, { max: 1 });
  if (Boolean(values.serial) === Boolean(positionals[0])) throw new UsageError("give a USER or --serial HEX, not both");
  if (values.serial) {
    const r = await revokeSerial(values.data, values.serial);
    process.stdout.write(r.revoked ? `revoked certificate ${r.serial} of ${r.username}\n` : `certificate ${r.serial} of ${r.username} was already revoked\n`);
    return 0;
  }
  const user = positionals[0]!;
  const n = await revokeUser(values.data, user);
  process.stdout.write(`revoked ${n} certificate${n === 1 ? "" : "s"} of ${user}\n`);
  return 0;
}

async function certs(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: "string", default: DEFAULT_CONFIG.data }, json: { type: "boolean", default: false } });
  const list = await certStatuses(values.data);
  if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
  else if (list.length === 0) process.stdout.write("no certificates issued yet\n");
  else process.stdout.write(table([["USER", "SERIAL", "NOT AFTER", "STATUS"], ...list.map((c) => [c.user, c.serial, c.notAfter, c.status])]));
  return 0;
}
