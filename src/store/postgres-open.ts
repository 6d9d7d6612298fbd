/** Opening the PostgreSQL pool of a PostgresStore: its options, the schema made or upgraded, durability checked (ST2). */
import { SQL } from "bun";
import { migratePostgres } from "./postgres-migrations.ts";

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** application_name of the pool's connections, so an operator (or a test) can tell the nodes apart. */
  applicationName?: string;
  /** How long a call keeps being tried again while the connection is lost, in ms (default 10 000: a server restart). */
  retryForMs?: number;
  /** The schema that holds the tables (default: the server's search_path, normally `public`); created if absent. */
  schema?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A pool on `url` (postgres://user@host:port/db) whose schema is created or
 * upgraded (a newer one is refused), once `synchronous_commit` is known not to
 * be off: a commit returns once its WAL is flushed (ST2). Closed again on a failure.
 */
export async function openPostgres(url: string, opts: PostgresStoreOptions): Promise<SQL> {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new TypeError(`schema name ${JSON.stringify(opts.schema)} must be lower-case letters, digits and _`);
  }
  const connection: Record<string, string> = { application_name: opts.applicationName ?? "sis-store" };
  if (opts.schema !== undefined) connection.search_path = opts.schema;
  const sql = new SQL(url, { max: opts.max ?? 10, connection });
  try {
    // The name matched SCHEMA_NAME above: safe to splice as an identifier.
    // Two nodes racing here: the loser may get a unique violation on the catalog although the schema now exists.
    if (opts.schema !== undefined) {
      await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`).catch(async (err) => {
        if ((await sql`SELECT to_regnamespace(${opts.schema}) AS s`)[0].s === null) throw err;
      });
    }
    const [{ synchronous_commit: sync }] = await sql`SHOW synchronous_commit`;
    // "off" acknowledges before the WAL is flushed; every other value waits for at least the local flush.
    if (sync === "off") {
      throw new Error(`PostgreSQL has synchronous_commit=${sync}: an acknowledged image could be lost; set it to on`);
    }
    await migratePostgres(sql);
    return sql;
  } catch (err) {
    await sql.close();
    throw err;
  }
}
