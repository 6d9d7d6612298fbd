/** Backup encryption (docs/OPERATIONS.md "Encrypted backups"): scrypt passphrase key, per-file HKDF keys, the envelope STREAM. */
import { createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { encodeHeader, decodeHeader, newHeader, MAX_HEADER_SIZE } from "./envelope-header.ts";
import { openStream, sealStream } from "./envelope-stream.ts";

export const BACKUP_FILE_MAGIC = new TextEncoder().encode("SISBAK");
export const BACKUP_FILE_VERSION = 1;
const FILE_SALT_SIZE = 16;
const PREAMBLE_SIZE = BACKUP_FILE_MAGIC.length + 1 + FILE_SALT_SIZE + 2; // 25
export const BACKUP_OWNER = "sis-backup";
const CONTENT_TYPE = "application/octet-stream";
const FILE_KEY_INFO = "sis-backup v1 file key";
const CHECK_INFO = "sis-backup v1 key check";

/** scrypt cost: N = 2^17, r = 8, p = 1 (age's default work factor; 128 MiB, about a second). */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
/** A backup's parameters are read from disk: refuse work factors that would exhaust memory. */
const MAX_LOG2_N = 20;

export interface BackupKdfParams {
  kdf: "scrypt";
  N: number;
  r: number;
  p: number;
  /** 16 random bytes, hex. */
  salt: string;
  /** HMAC-SHA256(key, "sis-backup v1 key check"), hex: tells a wrong passphrase from a damaged file. */
  check: string;
}

export class BackupCipherError extends Error {
  override readonly name = "BackupCipherError";
  constructor(readonly code: "WRONG_PASSPHRASE" | "BAD_PARAMS" | "BAD_FILE" | "AUTH_FAILED", message: string) {
    super(message);
  }
}

function scryptAsync(passphrase: string, salt: Uint8Array, N: number, r: number, p: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize("NFC"), salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key)),
    );
  });
}

function checkValue(key: Uint8Array): Buffer {
  return createHmac("sha256", key).update(CHECK_INFO).digest();
}

/** New parameters and the key they give for `passphrase` (fresh random salt). */
export async function newBackupKey(passphrase: string, cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<{ params: BackupKdfParams; key: Uint8Array }> {
  if (passphrase.length === 0) throw new BackupCipherError("WRONG_PASSPHRASE", "the passphrase is empty");
  const salt = new Uint8Array(randomBytes(16));
  const key = await scryptAsync(passphrase, salt, cost.N, cost.r, cost.p);
  const params: BackupKdfParams = { kdf: "scrypt", ...cost, salt: Buffer.from(salt).toString("hex"), check: checkValue(key).toString("hex") };
  return { params, key };
}

/** The key for `passphrase` under stored parameters; WRONG_PASSPHRASE when the check value differs. */
export async function openBackupKey(passphrase: string, params: BackupKdfParams): Promise<Uint8Array> {
  const { N, r, p } = params;
  const log2 = Math.log2(N);
  if (params.kdf !== "scrypt" || !Number.isInteger(log2) || log2 < 1 || log2 > MAX_LOG2_N || r !== 8 || !(p >= 1 && p <= 4)) {
    throw new BackupCipherError("BAD_PARAMS", "unsupported scrypt parameters");
  }
  if (!/^[0-9a-f]{32}$/.test(params.salt) || !/^[0-9a-f]{64}$/.test(params.check)) throw new BackupCipherError("BAD_PARAMS", "malformed salt or check value");
  const key = await scryptAsync(passphrase, Buffer.from(params.salt, "hex"), N, r, p);
  if (!timingSafeEqual(checkValue(key), Buffer.from(params.check, "hex"))) {
    throw new BackupCipherError("WRONG_PASSPHRASE", "wrong passphrase");
  }
  return key;
}

function fileKey(key: Uint8Array, fileSalt: Uint8Array): Uint8Array {
  // A fresh key per file (K2): the envelope STREAM's nonces are unique only under one key.
  return new Uint8Array(hkdfSync("sha256", key, fileSalt, FILE_KEY_INFO, 32));
}

/**
 * Encrypts one file of a backup: preamble (magic, version, file salt, header length),
 * the envelope header (owner "sis-backup", name = the file's path in the backup, size),
 * then the chunk stream under HKDF(key, file salt). The path in the header is
 * authenticated with every chunk, so a file moved to another place does not open.
 */
export async function* sealBackupFile(key: Uint8Array, path: string, size: number, plaintext: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const salt = new Uint8Array(randomBytes(FILE_SALT_SIZE));
  const header = newHeader({ owner: BACKUP_OWNER, name: path, contentType: CONTENT_TYPE, size });
  const headerBytes = encodeHeader(header);
  const preamble = new Uint8Array(PREAMBLE_SIZE + headerBytes.length);
  preamble.set(BACKUP_FILE_MAGIC, 0);
  preamble[BACKUP_FILE_MAGIC.length] = BACKUP_FILE_VERSION;
  preamble.set(salt, BACKUP_FILE_MAGIC.length + 1);
  new DataView(preamble.buffer).setUint16(PREAMBLE_SIZE - 2, headerBytes.length);
  preamble.set(headerBytes, PREAMBLE_SIZE);
  yield preamble;
  yield* sealStream(fileKey(key, salt), header, plaintext);
}

/** Decrypts one backup file stored at `path`; plaintext is trustworthy only once the generator finished (R7). */
export async function* openBackupFile(key: Uint8Array, path: string, stored: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = stored[Symbol.asyncIterator]();
  let head = new Uint8Array(0);
  const need = async (n: number): Promise<void> => {
    while (head.length < n) {
      const next = await it.next();
      if (next.done) throw new BackupCipherError("BAD_FILE", `${path}: too short for a sis backup file`);
      const grown = new Uint8Array(head.length + next.value.length);
      grown.set(head);
      grown.set(next.value, head.length);
      head = grown;
    }
  };
  await need(PREAMBLE_SIZE);
  for (let i = 0; i < BACKUP_FILE_MAGIC.length; i++) if (head[i] !== BACKUP_FILE_MAGIC[i]) throw new BackupCipherError("BAD_FILE", `${path}: not an encrypted sis backup file`);
  if (head[BACKUP_FILE_MAGIC.length] !== BACKUP_FILE_VERSION) throw new BackupCipherError("BAD_FILE", `${path}: unknown backup file version`);
  const salt = head.slice(BACKUP_FILE_MAGIC.length + 1, BACKUP_FILE_MAGIC.length + 1 + FILE_SALT_SIZE);
  const headerLength = new DataView(head.buffer, head.byteOffset).getUint16(PREAMBLE_SIZE - 2);
  if (headerLength > MAX_HEADER_SIZE) throw new BackupCipherError("BAD_FILE", `${path}: header too long`);
  await need(PREAMBLE_SIZE + headerLength);
  const headerBytes = head.slice(PREAMBLE_SIZE, PREAMBLE_SIZE + headerLength);
  let header;
  try {
    header = decodeHeader(headerBytes);
  } catch (err) {
    throw new BackupCipherError("BAD_FILE", `${path}: ${(err as Error).message}`);
  }
  // The header is also the AAD of every chunk, so a forged name fails authentication too.
  if (header.owner !== BACKUP_OWNER || header.name !== path) throw new BackupCipherError("BAD_FILE", `${path}: the file belongs elsewhere in the backup (${header.name})`);
  const rest = head.subarray(PREAMBLE_SIZE + headerLength);
  async function* remainder(): AsyncGenerator<Uint8Array> {
    if (rest.length > 0) yield rest;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    yield* openStream(fileKey(key, salt), headerBytes, remainder());
  } catch (err) {
    if ((err as Error).name === "EnvelopeError") throw new BackupCipherError("AUTH_FAILED", `${path}: damaged (${(err as Error).message})`);
    throw err;
  }
}
