/** Storage implementations of the interfaces declared in src/server/ports.ts. */
export { SqliteStore } from "./sqlite-store.ts";
export { PostgresStore, type PostgresStoreOptions } from "./postgres-store.ts";
export { PostgresNotifier, type PostgresNotifierOptions } from "./postgres-notifier.ts";
export { PG_MIGRATIONS, PG_SCHEMA_VERSION, migratePostgres } from "./postgres-migrations.ts";
export { BUSY_TIMEOUT_MS, openDatabase } from "./open-database.ts";
export { MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, migrate } from "./migrations.ts";
export { FileBlobStore, assertBlobId, DEFAULT_READ_CHUNK, MAX_READ_CHUNK } from "./file-blob-store.ts";
export { WRITE_BUFFER_SIZE } from "./file-blob-writer.ts";
export { S3BlobStore, ObjectStoreError, READ_WINDOW, DEFAULT_MIN_ORPHAN_AGE_MS, type S3BlobStoreOptions } from "./s3-blob-store.ts";
export { MIN_PART_SIZE } from "./s3-blob-writer.ts";
export { s3OptionsFromUrl, BlobUrlError } from "./s3-url.ts";
