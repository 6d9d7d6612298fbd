/** SQLite uniqueness violations as the ports' StoreConflictError (ST5). */
import { SQLiteError } from "bun:sqlite";
import { StoreConflictError } from "../server/ports.ts";

/** A UNIQUE or PRIMARY KEY violation becomes StoreConflictError; anything else passes through. */
export function conflictOr(err: unknown, message: string): unknown {
  const code = err instanceof SQLiteError ? err.code : undefined;
  const conflict = code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
  return conflict ? new StoreConflictError(message) : err;
}
