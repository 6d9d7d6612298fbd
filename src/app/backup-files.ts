/** The on-disk layout of a backup directory: backup.json, latest, snapshots/<name>/, blobs/; stored-file read/write, plain or encrypted. */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { openBackupFile, openBackupKey, sealBackupFile, type BackupKdfParams } from "../crypto/backup-cipher.ts";
import { fsyncDir } from "../runtime/fsync-dir.ts";

export const BACKUP_FORMAT = "sis-backup";
export const BACKUP_FORMAT_VERSION = 1;
export const LAYOUT = { info: "backup.json", latest: "latest", snapshots: "snapshots", blobs: "blobs", tmp: "tmp", lock: "lock", manifest: "manifest.json", database: "sis.db" } as const;

/** DEST/backup.json: written once, when DEST is first used; says whether (and how) the backup is encrypted. */
export interface BackupInfo {
  format: typeof BACKUP_FORMAT;
  version: number;
  encryption: BackupKdfParams | null;
}

export interface ManifestFile {
  /** Path relative to DEST, "/"-separated. */
  path: string;
  /** Plaintext size and SHA-256 (hex). */
  size: number;
  sha256: string;
}

export interface Manifest {
  format: "sis-backup-manifest";
  version: number;
  created: string;
  sisVersion: string;
  schemaVersion: number;
  encrypted: boolean;
  snapshot: string;
  images: number;
  files: ManifestFile[];
}

export class BackupError extends Error {
  override readonly name = "BackupError";
}

/** How files are stored: `key` null for a plain backup, else the backup's scrypt-derived key. */
export interface Codec {
  key: Uint8Array | null;
}

export function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

export async function readInfo(dest: string): Promise<BackupInfo | null> {
  let text: string;
  try {
    text = await readFile(join(dest, LAYOUT.info), "utf8");
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const info = JSON.parse(text) as BackupInfo;
  if (info.format !== BACKUP_FORMAT || info.version !== BACKUP_FORMAT_VERSION) throw new BackupError(`${dest} is not a sis backup of a version this sis reads`);
  return info;
}

/** Asked only when needed (a prompt, or the first line of stdin); never a command-line argument. */
export type PassphraseSource = (() => Promise<string>) | null;

/**
 * The key for an existing backup: refuses a missing or wrong passphrase with a clear message.
 * `strict`: a passphrase given for an unencrypted backup is an error (backup --encrypt).
 */
export async function codecFor(info: BackupInfo, passphrase: PassphraseSource, dest: string, strict = false): Promise<Codec> {
  if (info.encryption === null) {
    if (passphrase !== null && strict) throw new BackupError(`${dest} holds an unencrypted backup; drop --encrypt, or back up into a new directory`);
    return { key: null };
  }
  if (passphrase === null) throw new BackupError(`${dest} holds an encrypted backup; add --encrypt and give its passphrase`);
  try {
    return { key: await openBackupKey(await passphrase(), info.encryption) };
  } catch (err) {
    if ((err as { code?: string }).code === "WRONG_PASSPHRASE") throw new BackupError(`wrong passphrase for the encrypted backup in ${dest}`);
    throw err;
  }
}

/** Writes `data` to `path` atomically: a temporary file, fsync, rename, fsync of the directory. Mode 0600. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export async function mkdirPrivate(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // mkdir's mode is masked by umask and ignored for an existing directory
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield chunk as Uint8Array;
}

/**
 * Copies the plain file `source` into the backup at DEST/`rel` (encrypting when the codec has a key):
 * written to `rel`.tmp-*, fsynced, renamed. Returns the plaintext's size and SHA-256. An encrypted
 * file's header names `sealedName` (its final path in DEST), which may differ from where it is built.
 */
export async function storeFile(dest: string, rel: string, source: string, codec: Codec, sealedName: string = rel): Promise<ManifestFile> {
  const { size } = await stat(source);
  const hash = createHash("sha256");
  let counted = 0;
  async function* tapped(): AsyncGenerator<Uint8Array> {
    for await (const chunk of fileChunks(source)) {
      hash.update(chunk);
      counted += chunk.length;
      yield chunk;
    }
  }
  const out = codec.key === null ? tapped() : sealBackupFile(codec.key, sealedName, size, tapped());
  const final = join(dest, rel);
  const tmp = `${final}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await open(tmp, "wx", 0o600);
  try {
    try {
      for await (const piece of out) await handle.write(piece);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (counted !== size) throw new BackupError(`${source} changed size while it was copied`);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await rename(tmp, final);
  return { path: rel, size, sha256: hash.digest("hex") };
}

/** The plaintext of the stored file DEST/`rel` (decrypted and authenticated when the codec has a key). */
export function readStored(dest: string, rel: string, codec: Codec): AsyncGenerator<Uint8Array> {
  const raw = fileChunks(join(dest, rel));
  return codec.key === null ? raw : openBackupFile(codec.key, rel, raw);
}

/** Copies a stored file out of the backup to `target` (0600), checking it against its manifest entry. */
export async function extractFile(dest: string, entry: ManifestFile, codec: Codec, target: string): Promise<void> {
  const hash = createHash("sha256");
  let size = 0;
  const handle = await open(target, "wx", 0o600);
  try {
    for await (const piece of readStored(dest, entry.path, codec)) {
      hash.update(piece);
      size += piece.length;
      await handle.write(piece);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (size !== entry.size || hash.digest("hex") !== entry.sha256) throw new BackupError(`${entry.path} in the backup is damaged (its SHA-256 differs from the manifest)`);
}

/** Hashes a stored file's plaintext; null when it is missing. */
export async function hashStored(dest: string, rel: string, codec: Codec): Promise<{ size: number; sha256: string } | null> {
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const piece of readStored(dest, rel, codec)) {
      hash.update(piece);
      size += piece.length;
    }
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  return { size, sha256: hash.digest("hex") };
}

/** The manifest of the latest snapshot, or null when DEST has none yet. */
export async function readLatest(dest: string, codec: Codec): Promise<Manifest | null> {
  let name: string;
  try {
    name = (await readFile(join(dest, LAYOUT.latest), "utf8")).trim();
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  if (!/^[0-9A-Za-z-]+$/.test(name)) throw new BackupError(`${join(dest, LAYOUT.latest)} does not name a snapshot`);
  const rel = `${LAYOUT.snapshots}/${name}/${LAYOUT.manifest}`;
  const parts: Uint8Array[] = [];
  for await (const piece of readStored(dest, rel, codec)) parts.push(piece);
  const manifest = JSON.parse(Buffer.concat(parts).toString("utf8")) as Manifest;
  if (manifest.format !== "sis-backup-manifest" || manifest.snapshot !== name) throw new BackupError(`${rel} is not the manifest of snapshot ${name}`);
  return manifest;
}

/** Stores the manifest (encrypted like every other file when the backup is). */
export async function writeManifest(dest: string, rel: string, manifest: Manifest, codec: Codec, scratch: string, sealedName: string = rel): Promise<void> {
  const plain = join(scratch, `manifest-${randomBytes(6).toString("hex")}.json`);
  await writeAtomic(plain, JSON.stringify(manifest, null, 2) + "\n");
  try {
    await storeFile(dest, rel, plain, codec, sealedName);
  } finally {
    await unlink(plain).catch(() => {});
  }
}
