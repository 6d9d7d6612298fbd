/** sis admin: revoke certificates and list them, on the server's stores (the work is src/app/admin.ts). */
import { AdminError, certStatuses, revocationDetail, revokeSerial, revokeUser } from "../../src/app/admin.ts";
import { deleteAnyImage } from "../../src/app/admin-rm.ts";
import { DEFAULT_CONFIG } from "../../src/app/options.ts";
import { runInitCluster } from "../../src/app/init-cluster.ts";
import { intOption, parse, UsageError } from "../args.ts";
import { table } from "../format.ts";
import { membershipCommand } from "./admin-members.ts";

/** Where the server's stores are: --data, and --database / --blobs on PostgreSQL / S3 (else SIS_DATABASE / SIS_BLOBS, else sqlite / files). */
export const PLACE = { data: { type: "string", default: DEFAULT_CONFIG.data }, database: { type: "string" }, blobs: { type: "string" } } as const;

export async function admin(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === "revoke") return await revoke(rest);
    if (sub === "certs") return await certs(rest);
    if (sub === "backup" || sub === "verify-backup" || sub === "restore") {
      const m = await import("./admin-backup.ts");
      return await (sub === "backup" ? m.backupCommand(rest) : sub === "verify-backup" ? m.verifyBackupCommand(rest) : m.restoreCommand(rest));
    }
    // Cluster keys, made once for every node (docs/SCALING.md).
    if (sub === "init-cluster") return await initClusterCommand(rest);
    // Delete any image (M29).
    if (sub === "rm") return await adminRm(rest);
    // Membership: invite, invitations, users, disable, enable, delete.
    const member = membershipCommand(sub);
    if (member) return await member(rest);
  } catch (error) {
    throw error instanceof AdminError ? new UsageError(error.message) : error;
  }
  throw new UsageError(sub ? `no admin command '${sub}'` : "say 'revoke', 'certs', 'invite', 'invitations', 'users', 'disable', 'enable', 'delete', 'rm', 'backup', 'verify-backup', 'restore' or 'init-cluster'");
}

async function revoke(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...PLACE, serial: { type: "string" }, reason: { type: "string" }, "compromised-since": { type: "string" } },
    { max: 1 },
  );
  if (Boolean(values.serial) === Boolean(positionals[0])) throw new UsageError("give a USER or --serial HEX, not both");
  const now = Date.now();
  const detail = revocationDetail({ ...(values.reason !== undefined && { reason: values.reason }), ...(values["compromised-since"] !== undefined && { compromisedSince: values["compromised-since"] }) }, now);
  const why = detail.reason === "unspecified" ? "" : ` (${detail.reason}${detail.invalidityDate !== undefined ? ` since ${new Date(detail.invalidityDate).toISOString()}` : ""})`;
  if (values.serial) {
    const r = await revokeSerial(values, values.serial, now, detail);
    process.stdout.write(r.revoked ? `revoked certificate ${r.serial} of ${r.username}${why}\n` : `certificate ${r.serial} of ${r.username} was already revoked\n`);
    return 0;
  }
  const user = positionals[0]!;
  const n = await revokeUser(values, user, now, detail);
  process.stdout.write(`revoked ${n} certificate${n === 1 ? "" : "s"} of ${user}${why}\n`);
  return 0;
}

async function certs(args: string[]): Promise<number> {
  const { values } = parse(args, { ...PLACE, json: { type: "boolean", default: false } });
  const list = await certStatuses(values);
  if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
  else if (list.length === 0) process.stdout.write("no certificates issued yet\n");
  else process.stdout.write(table([["USER", "SERIAL", "NOT AFTER", "STATUS"], ...list.map((c) => [c.user, c.serial, c.notAfter, c.status])]));
  return 0;
}

/** sis admin rm OWNER/NAME: deletes any user's image, also while the server runs (M29). */
async function adminRm(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, PLACE, { min: 1, max: 1 });
  const target = positionals[0]!;
  const slash = target.indexOf("/");
  if (slash <= 0 || slash === target.length - 1) throw new UsageError("give the image as OWNER/NAME, e.g. alice/cat.png");
  const r = await deleteAnyImage(values, target.slice(0, slash), target.slice(slash + 1));
  process.stdout.write(`deleted ${r.owner}/${r.name} (#${r.seq}, ${r.cipherSize} bytes stored) from the server\n`);
  return 0;
}

/** sis admin init-cluster --out DIR --name LB[,MORE]: the keys of a cluster, once; --renew-tls re-issues the TLS certificate. */
async function initClusterCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { out: { type: "string" }, name: { type: "string" }, "renew-tls": { type: "boolean", default: false }, "tls-cert-days": { type: "string" } });
  if (values.out === undefined) throw new UsageError("give --out DIR, the folder for the cluster's keys");
  const days = intOption(values["tls-cert-days"], "tls-cert-days", 397, 1, 397);
  const r = await runInitCluster({ out: values.out, ...(values.name !== undefined && { names: values.name }), renewTls: values["renew-tls"], tlsCertDays: days });
  const out = process.stdout;
  out.write(values["renew-tls"] ? `renewed in ${r.dir}: ${r.files.join(", ")}\n` : `cluster keys made in ${r.dir}: ${r.files.join(", ")} (keys 0600)\n`);
  out.write(`CA fingerprint (SHA-256): ${r.fingerprint}\n`);
  out.write(`TLS certificate names: ${r.hosts.join(", ")}\n`);
  out.write(values["renew-tls"]
    ? `copy server.pem and server.key (and any other file renewed) to every node's --keys; running nodes take it up within --tls-renew-check\n`
    : `copy ${r.dir} to every node (it holds the CA key: owner-only, never in a backup left open) and start each with: sis serve --keys DIR --database postgres://…\n`);
  return 0;
}
