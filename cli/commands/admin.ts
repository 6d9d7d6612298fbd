/** sis admin: revoke certificates and list them, on the data directory (safe while the server runs). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { normalizeSerial } from "../../src/pki/index.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { parse, UsageError } from "../args.ts";
import { table } from "../format.ts";

function openStore(data: string): SqliteStore {
  const path = join(resolve(data), DATA_FILES.database);
  if (!existsSync(path)) throw new UsageError(`no sis database in ${resolve(data)}; pass the server's --data DIR`);
  return SqliteStore.open(path);
}

export async function admin(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "revoke") return revoke(rest);
  if (sub === "certs") return certs(rest);
  if (sub === "backup" || sub === "verify-backup" || sub === "restore") {
    const m = await import("./admin-backup.ts");
    return sub === "backup" ? m.backupCommand(rest) : sub === "verify-backup" ? m.verifyBackupCommand(rest) : m.restoreCommand(rest);
  }
  throw new UsageError(sub ? `no admin command '${sub}'` : "say 'revoke', 'certs', 'backup', 'verify-backup' or 'restore'");
}

function revoke(args: string[]): number {
  const { values, positionals } = parse(args, { data: { type: "string", default: "./sis-data" }, serial: { type: "string" } }, { max: 1 });
  if (Boolean(values.serial) === Boolean(positionals[0])) throw new UsageError("give a USER or --serial HEX, not both");
  const store = openStore(values.data);
  try {
    const now = Date.now();
    if (values.serial) {
      const serial = normalizeSerial(values.serial);
      const cert = store.findCert(serial);
      if (!cert) throw new UsageError(`no certificate with serial ${serial}; 'sis admin certs' lists them`);
      if (!store.revokeSerial(serial, now)) {
        process.stdout.write(`certificate ${serial} of ${cert.username} was already revoked\n`);
        return 0;
      }
      process.stdout.write(`revoked certificate ${serial} of ${cert.username}\n`);
      return 0;
    }
    const user = positionals[0]!;
    if (!store.findUser(user)) throw new UsageError(`no user '${user}'`);
    const n = store.revokeUser(user, now);
    process.stdout.write(`revoked ${n} certificate${n === 1 ? "" : "s"} of ${user}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function certs(args: string[]): number {
  const { values } = parse(args, { data: { type: "string", default: "./sis-data" }, json: { type: "boolean", default: false } });
  const store = openStore(values.data);
  try {
    const now = Date.now();
    const list = store.listCerts().map((c) => ({
      user: c.username,
      serial: c.serial,
      notAfter: new Date(c.notAfter).toISOString(),
      status: c.revokedAt !== null ? "revoked" : c.notAfter < now ? "expired" : "valid",
    }));
    if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    else if (list.length === 0) process.stdout.write("no certificates issued yet\n");
    else process.stdout.write(table([["USER", "SERIAL", "NOT AFTER", "STATUS"], ...list.map((c) => [c.user, c.serial, c.notAfter, c.status])]));
    return 0;
  } finally {
    store.close();
  }
}
