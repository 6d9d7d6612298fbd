/** sis admin verify-backup: every file against the manifest's SHA-256, the database's integrity, every referenced blob present. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { integrityProblems, snapshotInfo } from "../store/sqlite-backup.ts";
import { BackupError, LAYOUT, codecFor, extractFile, hashStored, readInfo, readLatest, type PassphraseSource, type Manifest } from "./backup-files.ts";

export interface VerifyResult {
  manifest: Manifest;
  /** Empty when the backup is sound; otherwise one line per problem. */
  problems: string[];
  files: number;
  bytes: number;
}

export async function verifyBackup(opts: { dest: string; passphrase: PassphraseSource; scratch?: string }): Promise<VerifyResult> {
  const dest = resolve(opts.dest);
  const info = await readInfo(dest);
  if (info === null) throw new BackupError(`no sis backup in ${dest} (no ${LAYOUT.info})`);
  const codec = await codecFor(info, opts.passphrase, dest);
  const manifest = await readLatest(dest, codec).catch((err) => {
    throw new BackupError(`cannot read the latest manifest: ${(err as Error).message}`);
  });
  if (manifest === null) throw new BackupError(`${dest} holds no finished backup yet (no ${LAYOUT.latest})`);
  const problems: string[] = [];
  let bytes = 0;
  for (const entry of manifest.files) {
    try {
      const got = await hashStored(dest, entry.path, codec);
      if (got === null) problems.push(`${entry.path}: missing`);
      else if (got.size !== entry.size || got.sha256 !== entry.sha256) problems.push(`${entry.path}: damaged (SHA-256 differs from the manifest)`);
      else bytes += got.size;
    } catch (err) {
      problems.push(`${entry.path}: ${(err as Error).message}`);
    }
  }

  // The database: integrity_check, and every image it lists has its blob in the manifest.
  const dbEntry = manifest.files.find((f) => f.path === `${LAYOUT.snapshots}/${manifest.snapshot}/${LAYOUT.database}`);
  if (!dbEntry) {
    problems.push("the manifest lists no database");
  } else if (!problems.some((p) => p.startsWith(dbEntry.path))) {
    // A plain backup's database is checked where it is; an encrypted one is decrypted to a private scratch file first.
    const scratchDir = codec.key === null ? null : await mkdtemp(join(opts.scratch ?? tmpdir(), "sis-verify-")); // 0700
    const scratch = scratchDir === null ? null : join(scratchDir, LAYOUT.database);
    try {
      if (scratch !== null) await extractFile(dest, dbEntry, codec, scratch);
      const dbPath = scratch ?? join(dest, dbEntry.path);
      for (const p of integrityProblems(dbPath)) problems.push(`${dbEntry.path}: integrity_check: ${p}`);
      const listed = new Set(manifest.files.map((f) => f.path));
      for (const id of snapshotInfo(dbPath).imageIds) {
        if (!listed.has(`${LAYOUT.blobs}/${id}`)) problems.push(`image ${id}: its blob is not in the manifest`);
      }
    } catch (err) {
      problems.push(`${dbEntry.path}: ${(err as Error).message}`);
    } finally {
      if (scratchDir !== null) await rm(scratchDir, { recursive: true, force: true });
    }
  }
  return { manifest, problems, files: manifest.files.length, bytes };
}
