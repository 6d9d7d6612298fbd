/** sis admin invite / invitations / users / disable / enable / delete (the work is src/app/admin-members.ts). */
import { deleteUser, invite, pendingInvitations, revokeInvitation, setDisabled, users } from "../../src/app/admin-members.ts";
import { MAX_INVITE_TTL_MS, parseDuration } from "../../src/app/invitations.ts";
import { DEFAULT_CONFIG } from "../../src/app/options.ts";
import { isValidUsername } from "../../src/protocol/index.ts";
import { parse, UsageError } from "../args.ts";
import { formatSize, table } from "../format.ts";

const DATA = { data: { type: "string", default: DEFAULT_CONFIG.data }, database: { type: "string" }, blobs: { type: "string" } } as const;
const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

/** The membership subcommands; null when `sub` is none of them. */
export function membershipCommand(sub: string | undefined): ((args: string[]) => Promise<number>) | null {
  switch (sub) {
    case "invite": return inviteCommand;
    case "invitations": return invitationsCommand;
    case "users": return usersCommand;
    case "disable": return (args) => disableCommand(args, true);
    case "enable": return (args) => disableCommand(args, false);
    case "delete": return deleteCommand;
    default: return null;
  }
}

async function inviteCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { ...DATA, user: { type: "string" }, expires: { type: "string", default: "7d" }, server: { type: "string" } });
  if (values.user !== undefined && !isValidUsername(values.user)) throw new UsageError("--user takes a username: 2 to 32 characters, lower-case letters, digits, '-' and '_', starting with a letter");
  const ttl = parseDuration(values.expires) ?? -1;
  if (ttl <= 0 || ttl > MAX_INVITE_TTL_MS) throw new UsageError("--expires takes a duration from 1s to 365d, such as 7d, 12h, 30m or 45s");
  const minted = await invite(values, { user: values.user ?? null, ttlMs: ttl, ...(values.server ? { server: values.server } : {}) });
  // The one line: the invitation itself. What it is for goes to stderr, so `sis admin invite > file` holds only it.
  process.stdout.write(`${minted.text}\n`);
  process.stderr.write(`invitation ${minted.id}${minted.username ? ` for ${minted.username}` : ""}, one use, until ${iso(minted.expiresAt)}; the user runs: sis register --invite -${minted.username ? "" : " --user NAME"}\n`);
  return 0;
}

async function invitationsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { ...DATA, json: { type: "boolean", default: false }, revoke: { type: "string" } });
  if (values.revoke !== undefined) {
    await revokeInvitation(values, values.revoke);
    process.stdout.write(`revoked invitation ${values.revoke}\n`);
    return 0;
  }
  const list = (await pendingInvitations(values)).map((i) => ({ id: i.id, user: i.username, created: iso(i.createdAt), expires: iso(i.expiresAt) }));
  if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
  else if (list.length === 0) process.stdout.write("no pending invitations; make one with 'sis admin invite'\n");
  else process.stdout.write(table([["ID", "USER", "CREATED", "EXPIRES"], ...list.map((i) => [i.id, i.user ?? "(any)", i.created, i.expires])]));
  return 0;
}

async function usersCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { ...DATA, json: { type: "boolean", default: false } });
  const list = (await users(values)).map((u) => ({
    user: u.username, created: iso(u.createdAt), certificates: u.validCerts, certificatesIssued: u.certs,
    state: u.disabledAt === null ? "active" : "disabled", images: u.images, bytes: u.bytes, lastSeen: u.lastSeenAt === null ? null : iso(u.lastSeenAt),
  }));
  if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
  else if (list.length === 0) process.stdout.write("no users yet; invite one with 'sis admin invite'\n");
  else process.stdout.write(table([["USER", "CREATED", "CERTS", "STATE", "IMAGES", "STORED", "LAST SEEN"], ...list.map((u) => [u.user, u.created, String(u.certificates), u.state, String(u.images), formatSize(u.bytes), u.lastSeen ?? "never"])]));
  return 0;
}

async function disableCommand(args: string[], disable: boolean): Promise<number> {
  const { values, positionals } = parse(args, DATA, { min: 1, max: 1 });
  const user = positionals[0]!;
  const changed = await setDisabled(values, user, disable);
  const state = disable ? "disabled" : "enabled";
  process.stdout.write(changed ? `${state} ${user}${disable ? "; their open connections end within seconds" : ""}\n` : `${user} was already ${state}\n`);
  return 0;
}

async function deleteCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...DATA, images: { type: "boolean", default: false } }, { min: 1, max: 1 });
  const user = positionals[0]!;
  const n = await deleteUser(values, user, values.images);
  process.stdout.write(`deleted ${user} (certificates revoked, name reserved)${values.images ? `; removed ${n} image${n === 1 ? "" : "s"}` : "; their images stay"}\n`);
  return 0;
}
