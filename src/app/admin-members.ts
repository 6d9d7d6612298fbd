/** `sis admin` on membership (M1–M13): invitations, users, disable/enable, delete; on the data directory, safe while the server runs. */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fingerprint, fromPem } from "../pki/index.ts";
import { DATA_FILES } from "../server/data-dir.ts";
import type { InvitationRecord, UserSummary } from "../server/ports.ts";
import { AdminError, adminPlace, openAdminBlobs, withStore, type Where } from "./admin-place.ts";
import { ADDRESS_KEY, mintInvitation, type MintedInvitation } from "./invitations.ts";

export async function invite(data: Where, opts: { user: string | null; ttlMs: number; server?: string }): Promise<MintedInvitation> {
  const dir = resolve(adminPlace(data).data);
  const caPem = await readFile(join(dir, DATA_FILES.caCert), "utf8").catch(() => null);
  if (caPem === null) throw new AdminError(`no CA in ${dir}; pass the server's --data DIR`);
  return withStore(data, async (store) => {
    const address = opts.server ?? (await store.getServerInfo(ADDRESS_KEY));
    if (!address) throw new AdminError("the server has not recorded its address yet: start 'sis serve' once, or pass --server HOST:PORT");
    if (opts.user !== null && (await store.findUser(opts.user))) throw new AdminError(`user '${opts.user}' exists already; an invitation is for a new user`);
    return mintInvitation(store, { address, fingerprint: fingerprint(fromPem(caPem, "CERTIFICATE")), username: opts.user, ttlMs: opts.ttlMs });
  });
}

export function pendingInvitations(data: Where, now = Date.now()): Promise<InvitationRecord[]> {
  return withStore(data, (store) => store.listPendingInvitations(now));
}

export function revokeInvitation(data: Where, id: string, now = Date.now()): Promise<void> {
  return withStore(data, async (store) => {
    if (!(await store.revokeInvitation(id, now))) throw new AdminError(`no pending invitation ${id}; 'sis admin invitations' lists them`);
  });
}

export function users(data: Where, now = Date.now()): Promise<UserSummary[]> {
  return withStore(data, (store) => store.userSummaries(now));
}

/** False when it was in that state already. */
export function setDisabled(data: Where, user: string, disabled: boolean, now = Date.now()): Promise<boolean> {
  return withStore(data, async (store) => {
    if (!(await store.findUser(user))) throw new AdminError(`no user '${user}'; 'sis admin users' lists them`);
    return store.setUserDisabled(user, disabled, now);
  });
}

/** M13: the rows go in one transaction (on PostgreSQL with the deletion log: every node pushes IMAGE_DELETED); then each blob is removed. Resolves to how many images were removed. */
export async function deleteUser(data: Where, user: string, withImages: boolean, now = Date.now()): Promise<number> {
  const ids = await withStore(data, async (store) => {
    const removed = await store.deleteAccount(user, withImages, now);
    if (removed === null) throw new AdminError(`no user '${user}'; 'sis admin users' lists them`);
    return removed;
  });
  if (ids.length > 0) {
    const blobs = await openAdminBlobs(adminPlace(data));
    for (const id of ids) await blobs.remove(id);
  }
  return ids.length;
}
