/** sis admin backup: an online snapshot of a data directory (database, referenced blobs, keys) into DEST, incremental and atomic. */
import { randomBytes } from "node:crypto";
import { open, readFile, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { newBackupKey } from "../crypto/backup-cipher.ts";
import { DATA_FILES } from "../server/data-dir.ts";
import { dropSnapshotImages, snapshotDatabase, snapshotInfo } from "../store/sqlite-backup.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupError,
  LAYOUT,
  codecFor,
  isMissing,
  mkdirPrivate,
  readInfo,
  readLatest,
  storeFile,
  writeAtomic,
  writeManifest,
  type BackupInfo,
  type Codec,
  type Manifest,
  type ManifestFile,
  type PassphraseSource,
} from "./backup-files.ts";

export interface BackupOptions {
  dest: string;
  data: string;
  /** null: a plain backup (refused if DEST is encrypted); else asked once, when the key is needed. */
  passphrase: PassphraseSource;
  sisVersion: string;
  /** One line per backup: a sentence and the same facts as fields (no secrets, no image names). */
  log?: (message: string, fields: BackupLogFields) => void;
}

/** What the backup's log line says, field by field (docs/OPERATIONS.md section 6.1). */
export interface BackupLogFields {
  snapshot: string;
  data: string;
  dest: string;
  images: number;
  copied: number;
  bytesCopied: number;
  unchanged: number;
  vanished: number;
  encrypted: boolean;
}

export interface BackupResult {
  snapshot: string;
  images: number;
  /** Blobs written by this run, and blobs already in DEST from an earlier backup. */
  copied: number;
  reused: number;
  /** Images deleted on the server after the snapshot was taken: left out of this backup. */
  vanished: number;
  bytesCopied: number;
  manifest: Manifest;
}

/** Files of the data directory that are not keys: the live database and its journals, the blob folder. */
function isKeyFile(name: string): boolean {
  return !name.startsWith(".") && !name.startsWith(DATA_FILES.database) && name !== DATA_FILES.blobs;
}

function snapshotName(now: Date): string {
  return `${now.toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
}

async function prepareDest(dest: string, passphrase: PassphraseSource): Promise<{ info: BackupInfo; codec: Codec }> {
  let info = await readInfo(dest);
  if (info === null) {
    const entries = (await readdir(dest)).filter((n) => n !== LAYOUT.lock);
    if (entries.length > 0) throw new BackupError(`${dest} is not empty and holds no sis backup; give an empty or new directory`);
    if (passphrase === null) {
      info = { format: BACKUP_FORMAT, version: BACKUP_FORMAT_VERSION, encryption: null };
      await writeAtomic(join(dest, LAYOUT.info), JSON.stringify(info, null, 2) + "\n");
      return { info, codec: { key: null } };
    }
    const { params, key } = await newBackupKey(await passphrase());
    info = { format: BACKUP_FORMAT, version: BACKUP_FORMAT_VERSION, encryption: params };
    await writeAtomic(join(dest, LAYOUT.info), JSON.stringify(info, null, 2) + "\n");
    return { info, codec: { key } };
  }
  return { info, codec: await codecFor(info, passphrase, dest, true) };
}

export async function backup(opts: BackupOptions): Promise<BackupResult> {
  const dest = resolve(opts.dest);
  const data = resolve(opts.data);
  const log = opts.log ?? (() => {});
  const database = join(data, DATA_FILES.database);
  for (const required of [DATA_FILES.database, DATA_FILES.caKey, DATA_FILES.storageKey]) {
    if (!(await stat(join(data, required)).catch(() => null))) throw new BackupError(`no ${required} in ${data}; pass the server's --data DIR`);
  }
  await mkdirPrivate(dest);
  // Locked before backup.json is read or written: two first backups must not each draw a salt.
  const release = await lockDest(dest);
  try {
    const { codec } = await prepareDest(dest, opts.passphrase);
    return await backupLocked(dest, data, database, codec, opts.sisVersion, log);
  } finally {
    await release();
  }
}

/**
 * One backup at a time per DEST (B3): a second one would empty the first's tmp/ and prune
 * the blobs it just copied. DEST/lock holds the owner's pid; a lock whose process is gone is taken over.
 */
async function lockDest(dest: string): Promise<() => Promise<void>> {
  const path = join(dest, LAYOUT.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(path).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) throw new BackupError(`another backup into ${dest} is running (pid ${pid}); wait for it to finish`);
    await unlink(path).catch(() => {}); // stale: its process died
  }
  throw new BackupError(`cannot lock ${join(dest, LAYOUT.lock)}; remove it if no backup is running`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function backupLocked(dest: string, data: string, database: string, codec: Codec, sisVersion: string, log: NonNullable<BackupOptions["log"]>): Promise<BackupResult> {
  const previous = await readLatest(dest, codec);
  const known = new Map<string, ManifestFile>((previous?.files ?? []).map((f) => [f.path, f]));

  const tmp = join(dest, LAYOUT.tmp);
  await rm(tmp, { recursive: true, force: true }); // what a crashed backup left
  for (const dir of [tmp, join(dest, LAYOUT.blobs), join(dest, LAYOUT.snapshots)]) await mkdirPrivate(dir);
  const name = snapshotName(new Date());
  const building = join(tmp, name);
  await mkdirPrivate(building);

  // 1. The database: one consistent read transaction. Plaintext lives only in DEST/tmp (0700) or,
  // for an encrypted backup, beside the live database it copies.
  const plainDb = codec.key === null ? join(tmp, `db-${name}`) : join(data, `.sis-backup-${randomBytes(6).toString("hex")}.db`);
  try {
    snapshotDatabase(database, plainDb);
    const snap = snapshotInfo(plainDb);

    // 2. Blobs the snapshot references; blobs are immutable (random ids, never rewritten),
    // so one already in DEST under the previous manifest with the same size is kept.
    const files: ManifestFile[] = [];
    const vanished: string[] = [];
    let copied = 0;
    let reused = 0;
    let bytesCopied = 0;
    for (const id of snap.imageIds) {
      const rel = `${LAYOUT.blobs}/${id}`;
      const source = join(data, DATA_FILES.blobs, id);
      const sourceStat = await stat(source).catch((err) => {
        if (isMissing(err)) return null;
        throw err;
      });
      if (sourceStat === null) {
        vanished.push(id); // deleted on the server after the snapshot began (a row never precedes its blob)
        continue;
      }
      const before = known.get(rel);
      if (before && before.size === sourceStat.size && (await stat(join(dest, rel)).catch(() => null))) {
        files.push(before);
        reused++;
        continue;
      }
      try {
        files.push(await storeFile(dest, rel, source, codec));
      } catch (err) {
        if (!isMissing(err)) throw err;
        vanished.push(id); // deleted between the stat and the copy
        continue;
      }
      copied++;
      bytesCopied += sourceStat.size;
    }
    await fsyncDir(join(dest, LAYOUT.blobs));
    dropSnapshotImages(plainDb, vanished);

    // 3. The database and the keys into the snapshot being built.
    const snapRel = `${LAYOUT.snapshots}/${name}`;
    const buildRel = `${LAYOUT.tmp}/${name}`;
    await placeFile(dest, codec, buildRel, snapRel, LAYOUT.database, plainDb, files);
    for (const entry of (await readdir(data, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isFile() || !isKeyFile(entry.name)) continue;
      await placeFile(dest, codec, buildRel, snapRel, entry.name, join(data, entry.name), files);
    }

    // 4. The manifest, last; then the switch: rename the snapshot into snapshots/, then `latest`.
    const manifest: Manifest = {
      format: "sis-backup-manifest",
      version: BACKUP_FORMAT_VERSION,
      created: new Date().toISOString(),
      sisVersion,
      schemaVersion: snap.schemaVersion,
      encrypted: codec.key !== null,
      snapshot: name,
      images: snap.imageIds.length - vanished.length,
      files,
    };
    await writeManifestAt(dest, codec, buildRel, snapRel, manifest, tmp);
    await fsyncDir(building);
    await rename(building, join(dest, LAYOUT.snapshots, name));
    await fsyncDir(join(dest, LAYOUT.snapshots));
    await fsyncDir(tmp);
    await writeAtomic(join(dest, LAYOUT.latest), name + "\n");

    // 5. Only now: older snapshots and blobs no snapshot references.
    await prune(dest, name, new Set(files.map((f) => f.path)));
    const result: BackupResult = { snapshot: name, images: manifest.images, copied, reused, vanished: vanished.length, bytesCopied, manifest };
    log(
      `backup ${name} of ${data} into ${dest}: ${manifest.images} images, ${copied} blobs copied (${bytesCopied} bytes), ${reused} unchanged` +
        (vanished.length > 0 ? `, ${vanished.length} deleted while it ran left out` : "") +
        (codec.key !== null ? ", encrypted" : ""),
      { snapshot: name, data, dest, images: manifest.images, copied, bytesCopied, unchanged: reused, vanished: vanished.length, encrypted: codec.key !== null },
    );
    return result;
  } finally {
    await unlink(plainDb).catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Stores `source` as `relName` of the snapshot. An encrypted file's header must name its final
 * path (snapshots/<name>/…), so it is sealed under that name while it is written into tmp/.
 */
async function placeFile(dest: string, codec: Codec, buildRel: string, snapRel: string, relName: string, source: string, files: ManifestFile[]): Promise<void> {
  const entry = await storeFile(dest, `${buildRel}/${relName}`, source, codec, `${snapRel}/${relName}`);
  files.push({ ...entry, path: `${snapRel}/${relName}` });
}

async function writeManifestAt(dest: string, codec: Codec, buildRel: string, snapRel: string, manifest: Manifest, scratch: string): Promise<void> {
  await writeManifest(dest, `${buildRel}/${LAYOUT.manifest}`, manifest, codec, scratch, `${snapRel}/${LAYOUT.manifest}`);
}

async function prune(dest: string, keep: string, paths: Set<string>): Promise<void> {
  for (const old of await readdir(join(dest, LAYOUT.snapshots))) {
    if (old !== keep) await rm(join(dest, LAYOUT.snapshots, old), { recursive: true, force: true });
  }
  await fsyncDir(join(dest, LAYOUT.snapshots));
  let removed = false;
  for (const blob of await readdir(join(dest, LAYOUT.blobs))) {
    if (!paths.has(`${LAYOUT.blobs}/${blob}`)) {
      await unlink(join(dest, LAYOUT.blobs, blob)).catch(() => {});
      removed = true;
    }
  }
  if (removed) await fsyncDir(join(dest, LAYOUT.blobs));
}
