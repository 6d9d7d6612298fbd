/** Where `sis admin` finds the server's stores: the data directory, and --database / --blobs (or SIS_DATABASE / SIS_BLOBS) of a PostgreSQL / S3 deployment. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATA_FILES } from "../server/data-dir.ts";
import type { BlobStore, DeviceStore, CertStore, ImageStore, MembershipStore, UserStore } from "../server/ports.ts";
import { FileBlobStore, PostgresStore, SqliteStore } from "../store/index.ts";
import { S3BlobStore } from "../store/s3-blob-store.ts";
import { BlobUrlError, s3OptionsFromUrl } from "../store/s3-url.ts";
import { DatabaseOptionError, postgresUrl } from "./database-url.ts";

/** The operator named something that is not there (exit 2); the message says what to do. */
export class AdminError extends Error {
  override readonly name = "AdminError";
}

export interface AdminPlace {
  /** The data directory: the CA (for invitations), and the SQLite file and blob folder by default. */
  data: string;
  /** "sqlite" or a postgres:// URL without a password, as `sis serve --database`. */
  database: string;
  /** "files" or an s3:// URL, as `sis serve --blobs`. */
  blobs: string;
}

/** A data directory alone (SQLite and files unless SIS_DATABASE / SIS_BLOBS say otherwise), or a place with some of its parts given. */
export type Where = string | { data: string; database?: string | undefined; blobs?: string | undefined };

/** The place `where` names: a part not given comes from SIS_DATABASE / SIS_BLOBS, else the default. */
export function adminPlace(where: Where, env: Record<string, string | undefined> = process.env): AdminPlace {
  const given = typeof where === "string" ? { data: where } : where;
  return { data: given.data, database: given.database ?? (env.SIS_DATABASE || "sqlite"), blobs: given.blobs ?? (env.SIS_BLOBS || "files") };
}

export type AdminStore = UserStore & CertStore & ImageStore & DeviceStore & MembershipStore & { close(): void | Promise<void> };

/** The server's metadata store: the data directory's SQLite file, or the PostgreSQL database of --database. */
export async function openAdminStore(place: AdminPlace): Promise<AdminStore> {
  let url: string | null;
  try {
    url = postgresUrl(place.database);
  } catch (error) {
    throw error instanceof DatabaseOptionError ? new AdminError(error.message.replace(/^cannot /, "")) : error;
  }
  if (url === null) {
    const path = join(resolve(place.data), DATA_FILES.database);
    if (!existsSync(path)) throw new AdminError(`no sis database in ${resolve(place.data)}; pass the server's --data DIR (or its --database URL)`);
    return SqliteStore.open(path);
  }
  const at = new URL(url);
  return PostgresStore.open(url, { applicationName: "sis-admin" }).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AdminError(`cannot open the database ${at.host}${at.pathname}: ${reason}; check --database and that PostgreSQL runs there`);
  });
}

/** The server's blob store: the data directory's folder, or the bucket of --blobs (credentials from the environment). */
export async function openAdminBlobs(place: AdminPlace): Promise<BlobStore> {
  if (place.blobs === "files") return FileBlobStore.open(join(resolve(place.data), DATA_FILES.blobs));
  try {
    return new S3BlobStore(s3OptionsFromUrl(place.blobs, process.env));
  } catch (error) {
    throw error instanceof BlobUrlError ? new AdminError(error.message.replace(/^sis: cannot use the blob location/, "--blobs")) : error;
  }
}

/** Opens the store of `where` for one task and closes it after. */
export async function withStore<T>(where: Where, task: (store: AdminStore) => Promise<T>): Promise<T> {
  const store = await openAdminStore(adminPlace(where));
  try {
    return await task(store);
  } finally {
    await store.close();
  }
}

/** `sis admin backup` copies the SQLite file and the blob folder; on PostgreSQL (or S3) it refuses and names the tools that back those up. */
export function assertBackupable(where: Where): void {
  const place = adminPlace(where);
  if (place.database !== "sqlite") throw new AdminError("sis admin backup copies the SQLite database of --data and cannot back up PostgreSQL; back it up with pg_dump (docs/OPERATIONS.md, \"Backups on PostgreSQL\")");
  if (place.blobs !== "files") throw new AdminError("sis admin backup copies the blob folder of --data and cannot back up an S3 bucket; use the object store's versioning or replication (docs/OPERATIONS.md, \"Backups on PostgreSQL\")");
}
