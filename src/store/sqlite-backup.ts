/** Online backup of the live database (VACUUM INTO on its own connection) and checks of a snapshot file. */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { BUSY_TIMEOUT_MS } from "./open-database.ts";

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Writes a consistent snapshot of the database at `source` to `dest` (which must not exist).
 * VACUUM INTO reads inside one read transaction, so in WAL mode it sees exactly the
 * commits made before it started while the server keeps writing; it never blocks writers.
 * The snapshot is made 0600 (it holds password hashes).
 */
export function snapshotDatabase(source: string, dest: string): void {
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  if (existsSync(dest)) throw new Error(`${dest} already exists`);
  const db = new Database(source, { readwrite: true, create: false, strict: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // A path is not a bindable value in VACUUM INTO's grammar for every SQLite: quote it as a literal.
    db.exec(`VACUUM INTO ${quoteLiteral(dest)}`);
  } finally {
    db.close();
  }
  chmodSync(dest, 0o600);
}

function openSnapshot(path: string, readonly: boolean): Database {
  return new Database(path, readonly ? { readonly: true, strict: true } : { readwrite: true, create: false, strict: true });
}

export interface SnapshotInfo {
  /** The id of every image row: the blobs the snapshot references. */
  imageIds: string[];
  /** PRAGMA user_version of the snapshot. */
  schemaVersion: number;
}

export function snapshotInfo(path: string): SnapshotInfo {
  const db = openSnapshot(path, true);
  try {
    const imageIds = db.query<{ id: string }, []>("SELECT id FROM images ORDER BY seq").all().map((r) => r.id);
    const schemaVersion = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
    return { imageIds, schemaVersion };
  } finally {
    db.close();
  }
}

/** Removes image rows from a snapshot (images deleted on the server while the backup ran: their blobs are gone). */
export function dropSnapshotImages(path: string, ids: string[]): void {
  if (ids.length === 0) return;
  const db = openSnapshot(path, false);
  try {
    const del = db.prepare<never, { id: string }>("DELETE FROM images WHERE id = $id");
    db.transaction(() => {
      for (const id of ids) del.run({ id });
    })();
  } finally {
    db.close();
  }
}

/** PRAGMA integrity_check of a snapshot: [] when sound, else SQLite's complaints. */
export function integrityProblems(path: string): string[] {
  let db: Database;
  try {
    db = openSnapshot(path, true);
  } catch (err) {
    return [(err as Error).message];
  }
  try {
    const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    const out = rows.map((r) => r.integrity_check).filter((r) => r !== "ok");
    return out;
  } catch (err) {
    return [(err as Error).message];
  } finally {
    db.close();
  }
}
