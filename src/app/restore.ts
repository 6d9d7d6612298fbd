/** sis admin restore: a working data directory from a backup's latest snapshot; refuses a non-empty directory. */
import { readdir, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DATA_FILES } from "../server/data-dir.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import { SCHEMA_VERSION } from "../store/migrations.ts";
import { integrityProblems } from "../store/sqlite-backup.ts";
import { BackupError, LAYOUT, codecFor, extractFile, isMissing, mkdirPrivate, readInfo, readLatest, type PassphraseSource } from "./backup-files.ts";

export interface RestoreResult {
  snapshot: string;
  created: string;
  images: number;
  files: number;
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if (isMissing(err)) return true;
    throw err;
  }
}

export async function restore(opts: { dest: string; data: string; passphrase: PassphraseSource }): Promise<RestoreResult> {
  const dest = resolve(opts.dest);
  const data = resolve(opts.data);
  const info = await readInfo(dest);
  if (info === null) throw new BackupError(`no sis backup in ${dest} (no ${LAYOUT.info})`);
  if (!(await isEmptyOrAbsent(data))) throw new BackupError(`${data} is not empty; restore into a new or empty directory (nothing was changed)`);
  const codec = await codecFor(info, opts.passphrase, dest);
  const manifest = await readLatest(dest, codec);
  if (manifest === null) throw new BackupError(`${dest} holds no finished backup yet (no ${LAYOUT.latest})`);
  if (manifest.schemaVersion > SCHEMA_VERSION) {
    throw new BackupError(`the backup's database (schema ${manifest.schemaVersion}) was made by sis ${manifest.sisVersion}, newer than this one (schema ${SCHEMA_VERSION}); restore it with that sis or a later one`);
  }

  const snapPrefix = `${LAYOUT.snapshots}/${manifest.snapshot}/`;
  const blobs = join(data, DATA_FILES.blobs);
  await mkdirPrivate(data);
  try {
    await mkdirPrivate(join(blobs, "tmp"));
    for (const entry of manifest.files) {
      if (entry.path.startsWith(`${LAYOUT.blobs}/`)) {
        await extractFile(dest, entry, codec, join(blobs, basename(entry.path)));
      } else if (entry.path.startsWith(snapPrefix) && !entry.path.slice(snapPrefix.length).includes("/")) {
        const name = entry.path.slice(snapPrefix.length);
        if (name === LAYOUT.manifest) continue;
        await extractFile(dest, entry, codec, join(data, name));
      } else {
        throw new BackupError(`the manifest lists an unexpected path ${entry.path}`);
      }
    }
    const problems = integrityProblems(join(data, DATA_FILES.database));
    if (problems.length > 0) throw new BackupError(`the restored database fails integrity_check: ${problems[0]}`);
    await fsyncDir(blobs);
    await fsyncDir(data);
  } catch (err) {
    // The directory was empty (or absent) before: leave it so, not half-restored.
    for (const name of await readdir(data).catch(() => [] as string[])) await rm(join(data, name), { recursive: true, force: true });
    throw err;
  }
  return { snapshot: manifest.snapshot, created: manifest.created, images: manifest.images, files: manifest.files.length };
}
