/** The wiring of `sis admin`: the data directory's store opened behind the ports, and the revocations and listing done on it (safe while the server runs). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { normalizeSerial } from "../pki/index.ts";
import { DATA_FILES } from "../server/data-dir.ts";
import type { CertStore, MembershipStore, UserStore } from "../server/ports.ts";
import { SqliteStore } from "../store/index.ts";

/** The operator named something that is not there (exit 2); the message says what to do. */
export class AdminError extends Error {
  override readonly name = "AdminError";
}

type AdminStore = UserStore & CertStore & MembershipStore & { close(): void };

/** Opens the store of the data directory `data` for one task and closes it after. */
export async function withStore<T>(data: string, task: (store: AdminStore) => Promise<T>): Promise<T> {
  const path = join(resolve(data), DATA_FILES.database);
  if (!existsSync(path)) throw new AdminError(`no sis database in ${resolve(data)}; pass the server's --data DIR`);
  const store = SqliteStore.open(path);
  try {
    return await task(store);
  } finally {
    store.close();
  }
}

export interface SerialRevocation {
  serial: string;
  username: string;
  /** False when it had been revoked before. */
  revoked: boolean;
}

export function revokeSerial(data: string, serialText: string, now = Date.now()): Promise<SerialRevocation> {
  return withStore(data, async (store) => {
    const serial = normalizeSerial(serialText);
    const cert = await store.findCert(serial);
    if (!cert) throw new AdminError(`no certificate with serial ${serial}; 'sis admin certs' lists them`);
    return { serial, username: cert.username, revoked: await store.revokeSerial(serial, now) };
  });
}

/** Revokes every valid certificate of `user`; returns how many. */
export function revokeUser(data: string, user: string, now = Date.now()): Promise<number> {
  return withStore(data, async (store) => {
    if (!(await store.findUser(user))) throw new AdminError(`no user '${user}'`);
    return store.revokeUser(user, now);
  });
}

export interface CertStatus {
  user: string;
  serial: string;
  /** ISO 8601. */
  notAfter: string;
  status: "valid" | "expired" | "revoked";
}

export function certStatuses(data: string, now = Date.now()): Promise<CertStatus[]> {
  return withStore(data, async (store) =>
    (await store.listCerts()).map((c) => ({
      user: c.username,
      serial: c.serial,
      notAfter: new Date(c.notAfter).toISOString(),
      status: c.revokedAt !== null ? "revoked" : c.notAfter < now ? "expired" : "valid",
    })),
  );
}
