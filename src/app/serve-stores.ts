/** The stores `sis serve` runs on: SQLite or PostgreSQL for the metadata (with the fan-out that fits), the blob folder or S3, each opened with its start-up sweep. */
import { join } from "node:path";
import { DATA_FILES } from "../server/data-dir.ts";
import { DeletionLogNotifier } from "../server/deletion-log-notifier.ts";
import type { Logger } from "../server/logger.ts";
import { MemoryNotifier } from "../server/memory-notifier.ts";
import type { BlobStore, Notifier, Store } from "../server/ports.ts";
import { LoginThrottle } from "../server/throttle.ts";
import { FileBlobStore, PostgresNotifier, PostgresStore, SqliteStore } from "../store/index.ts";
import { S3BlobStore, type S3BlobStoreOptions } from "../store/s3-blob-store.ts";
import { BlobUrlError, s3OptionsFromUrl } from "../store/s3-url.ts";
import { DatabaseOptionError, postgresUrl } from "./database-url.ts";

/** The S3 options of an s3:// --blobs, or null for the blob folder; refuses a bad URL before anything is created. */
export function s3Options(blobs: string | undefined): S3BlobStoreOptions | null {
  if (blobs === undefined || blobs === "files") return null;
  try {
    return s3OptionsFromUrl(blobs, process.env);
  } catch (error) {
    if (error instanceof BlobUrlError) throw new DatabaseOptionError(error.message.replace(/^sis: /, "").replace("cannot use the blob location", "cannot use --blobs"));
    throw error;
  }
}

/**
 * The blob store and its start-up sweep. The folder is this node's own: blobs without a
 * committed row were never acknowledged and go at once. A bucket is shared by every node:
 * the sweep removes only objects older than the store's minimum orphan age (S3-3), with
 * the ids read before the listing, so another node's upload that is about to be
 * acknowledged is never deleted.
 */
export async function openBlobs(dataDir: string, s3: S3BlobStoreOptions | null, store: Store, log: Logger): Promise<BlobStore> {
  if (s3 === null) {
    const blobs = await FileBlobStore.open(join(dataDir, DATA_FILES.blobs));
    const swept = await blobs.sweep(await store.allImageIds());
    if (swept.length > 0) log.info("removed unacknowledged upload files", { count: swept.length });
    return blobs;
  }
  const blobs = new S3BlobStore(s3);
  const readAt = Date.now();
  const keep = await store.allImageIds();
  const swept = await blobs.sweep(keep, readAt - blobs.minOrphanAgeMs).catch((error: unknown) => {
    throw new DatabaseOptionError(`cannot use --blobs: ${error instanceof Error ? error.message.replace(/^sis: /, "") : String(error)}`);
  });
  if (swept.length > 0) log.info("removed orphan blobs older than the minimum orphan age", { count: swept.length, minOrphanAgeSeconds: blobs.minOrphanAgeMs / 1000 });
  return blobs;
}

/** The metadata store and the fan-out: SQLite with in-process notification, or PostgreSQL with the cross-node doorbell. */
export async function openStore(dataDir: string, database: string | undefined): Promise<{ store: Store; notifier: Notifier & { close(): Promise<void> }; doorbell: PostgresNotifier | null; throttle: LoginThrottle; postgres: PostgresStore | null }> {
  const url = postgresUrl(database);
  // One node on SQLite: the throttle counts in memory; on PostgreSQL every node counts into the database (ST10).
  // Deletions come from the store's log on both, so `sis admin rm` (another process) is pushed too (M29).
  if (url === null) {
    const store = SqliteStore.open(join(dataDir, DATA_FILES.database));
    const notifier = await DeletionLogNotifier.start({ store, notifier: new MemoryNotifier() });
    return { store, notifier, doorbell: null, throttle: new LoginThrottle(), postgres: null };
  }
  const where = new URL(url);
  const store = await PostgresStore.open(url, { applicationName: "sis-serve" }).catch((error: unknown) => {
    // No password in the message: the URL holds none (postgresUrl), and only host, port and database are named.
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseOptionError(`cannot open the database ${where.host}${where.pathname}: ${reason}; check --database and that PostgreSQL runs there`);
  });
  try {
    const doorbell = await PostgresNotifier.start({ url, store, startAfter: await store.highestSeq(), deletionsAfter: await store.highestDeletion(), applicationName: "sis-serve-listen" });
    return { store, notifier: doorbell, doorbell, throttle: new LoginThrottle(Date.now, store), postgres: store };
  } catch (error) {
    await store.close();
    throw error;
  }
}
