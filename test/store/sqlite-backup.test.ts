/** Online snapshot of a live WAL database with VACUUM INTO, and the snapshot checks verify-backup relies on. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, SCHEMA_VERSION } from "../../src/store/index.ts";
import { dropSnapshotImages, integrityProblems, snapshotDatabase, snapshotInfo } from "../../src/store/sqlite-backup.ts";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function seed(path: string, images: number) {
  const db = openDatabase(path);
  db.exec("INSERT INTO users (username, password_hash, created_at) VALUES ('alice', 'x', 0)");
  const insert = db.prepare(
    "INSERT INTO images (id, owner_id, name, content_type, size, cipher_size, header, signature, wrapped_key, signer_serial, created_at) " +
      "VALUES ($id, 1, $name, 'image/png', 1, 17, x'00', x'00', x'00', 's', 0)",
  );
  const ids: string[] = [];
  for (let i = 0; i < images; i++) {
    const id = i.toString(16).padStart(32, "0");
    insert.run({ $id: id, $name: `n${i}` });
    ids.push(id);
  }
  return { db, ids, insert };
}

test("B1: snapshot of a live WAL database: committed rows in, a transaction still open on the live connection out; file 0600", () => {
  dir = mkdtempSync(join(tmpdir(), "sis-sqlite-backup-"));
  const live = join(dir, "sis.db");
  const { db, ids, insert } = seed(live, 3);
  try {
    db.exec("BEGIN IMMEDIATE"); // a writer mid-transaction: VACUUM INTO neither waits for it nor sees it
    insert.run({ $id: "f".repeat(32), $name: "uncommitted" });
    const snap = join(dir, "snap.db");
    snapshotDatabase(live, snap);
    db.exec("COMMIT");
    expect(statSync(snap).mode & 0o777).toBe(0o600);
    expect(snapshotInfo(snap)).toEqual({ imageIds: ids, schemaVersion: SCHEMA_VERSION });
    expect(integrityProblems(snap)).toEqual([]);
    expect(() => snapshotDatabase(live, snap)).toThrow("already exists");

    dropSnapshotImages(snap, [ids[1]!]);
    expect(snapshotInfo(snap).imageIds).toEqual([ids[0]!, ids[2]!]);
  } finally {
    db.close();
  }
});

test("B6: integrityProblems reports a damaged page and a file that is not a database", () => {
  dir = mkdtempSync(join(tmpdir(), "sis-sqlite-backup-"));
  const live = join(dir, "sis.db");
  seed(live, 50).db.close();
  const snap = join(dir, "snap.db");
  snapshotDatabase(live, snap);
  const bytes = readFileSync(snap);
  bytes[4096] = 0; // page 2's b-tree page type
  writeFileSync(snap, bytes);
  expect(integrityProblems(snap).length).toBeGreaterThan(0);
  writeFileSync(join(dir, "junk.db"), "not a database at all, just text that is long enough to be read........................................................");
  expect(integrityProblems(join(dir, "junk.db")).length).toBeGreaterThan(0);
});
