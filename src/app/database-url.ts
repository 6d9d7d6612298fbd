/** The --database value of `sis serve` and `sis admin`: sqlite, or a postgres:// URL that holds no password. */

/** A --database value that cannot be used; the message says what to do. */
export class DatabaseOptionError extends Error {
  override readonly name = "DatabaseOptionError";
}

/** The URL to connect to, or null for SQLite; refuses a password on the command line or in the configuration file. */
export function postgresUrl(database: string | undefined): string | null {
  if (database === undefined || database === "sqlite") return null;
  let url: URL;
  try {
    url = new URL(database);
  } catch {
    throw new DatabaseOptionError("cannot use --database: give sqlite or a postgres://USER@HOST:PORT/DB URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new DatabaseOptionError("cannot use --database: give sqlite or a postgres://USER@HOST:PORT/DB URL");
  }
  if (url.password !== "") {
    throw new DatabaseOptionError("cannot use --database: the URL holds a password; remove it and set PGPASSWORD in the server's environment");
  }
  return database;
}
