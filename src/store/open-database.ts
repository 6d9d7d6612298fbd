/** Opens a SQLite file the way sis needs it: owner-only, WAL, synchronous=FULL, foreign keys, migrated. */
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync } from "node:fs";
import { migrate } from "./migrations.ts";

/** How long a writer waits for another process (e.g. `sis admin revoke`) holding the write lock. */
export const BUSY_TIMEOUT_MS = 5000;

export function openDatabase(path: string): Database {
  // The database holds password hashes: create it 0600 before SQLite does
  // (SQLite gives the -wal and -shm files the main file's permissions).
  // An empty file is a valid empty database.
  if (path !== ":memory:" && !existsSync(path)) {
    try {
      closeSync(openSync(path, "wx", 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const db = new Database(path, { create: true, readwrite: true, strict: true });
  try {
    // busy_timeout first: the other pragmas and the migration may wait for another process.
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (path !== ":memory:" && mode !== "wal") throw new Error(`sqlite refused WAL mode (got ${mode})`);
    // FULL: in WAL mode every commit fsyncs the WAL, so a committed row survives power loss.
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
