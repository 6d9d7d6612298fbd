/** Backup file encryption: scrypt key with a check value, per-file keys, the envelope STREAM bound to the file's path. */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { BackupCipherError, DEFAULT_SCRYPT, newBackupKey, openBackupFile, openBackupKey, sealBackupFile } from "../../src/crypto/backup-cipher.ts";

// Tests use a cheap work factor; the format stores N, so the real default is exercised by the e2e test.
const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof BackupCipherError ? err.code : `other: ${(err as Error).message}`;
  }
  return "no error";
}

describe("backup cipher", () => {
  test("B8: the default work factor is age's: scrypt N=2^17, r=8, p=1", () => {
    expect(DEFAULT_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
  });

  test("round trip of files of 0, 1, 65536 and 200000 bytes; the stored form never contains the plaintext", async () => {
    const { params, key } = await newBackupKey("pass phrase", CHEAP);
    const again = await openBackupKey("pass phrase", params);
    expect(Buffer.from(again)).toEqual(Buffer.from(key));
    for (const size of [0, 1, 65536, 200_000]) {
      const plain = new Uint8Array(Buffer.from("-----BEGIN PRIVATE KEY-----".repeat(Math.ceil(size / 27) + 1)).subarray(0, size));
      const sealed = await collect(sealBackupFile(key, "snapshots/x/ca.key", size, once(plain)));
      if (size > 27) expect(Buffer.from(sealed).includes("PRIVATE KEY")).toBe(false);
      expect(Buffer.from(await collect(openBackupFile(again, "snapshots/x/ca.key", once(sealed))))).toEqual(Buffer.from(plain));
    }
  });

  test("B8: a wrong passphrase is WRONG_PASSPHRASE (the check value), not a damaged file", async () => {
    const { params } = await newBackupKey("right", CHEAP);
    expect(await codeOf(openBackupKey("wrong", params))).toBe("WRONG_PASSPHRASE");
    expect(await codeOf(newBackupKey("", CHEAP))).toBe("WRONG_PASSPHRASE");
  });

  test("stored parameters outside the supported range are refused before any work (no memory blow-up)", async () => {
    const { params } = await newBackupKey("right", CHEAP);
    expect(await codeOf(openBackupKey("right", { ...params, N: 2 ** 30 }))).toBe("BAD_PARAMS");
    expect(await codeOf(openBackupKey("right", { ...params, N: 1000 }))).toBe("BAD_PARAMS");
    expect(await codeOf(openBackupKey("right", { ...params, salt: "zz" }))).toBe("BAD_PARAMS");
  });

  test("B9, B10: a file moved to another path, a flipped byte, a truncation and trailing bytes are refused", async () => {
    const { key } = await newBackupKey("k", CHEAP);
    const plain = new Uint8Array(randomBytes(100_000));
    const sealed = await collect(sealBackupFile(key, "blobs/aa", plain.length, once(plain)));
    expect(await codeOf(collect(openBackupFile(key, "blobs/bb", once(sealed))))).toBe("BAD_FILE");
    const flipped = sealed.slice();
    flipped[flipped.length - 100]! ^= 1;
    expect(await codeOf(collect(openBackupFile(key, "blobs/aa", once(flipped))))).toBe("AUTH_FAILED");
    expect(await codeOf(collect(openBackupFile(key, "blobs/aa", once(sealed.subarray(0, sealed.length - 1)))))).toBe("AUTH_FAILED");
    expect(await codeOf(collect(openBackupFile(key, "blobs/aa", once(Buffer.concat([sealed, new Uint8Array(1)])))))).toBe("AUTH_FAILED");
    expect(await codeOf(collect(openBackupFile(key, "blobs/aa", once(new Uint8Array(10)))))).toBe("BAD_FILE");
    // The same plaintext sealed twice differs (fresh file salt, so a fresh key per file: K2).
    const twice = await collect(sealBackupFile(key, "blobs/aa", plain.length, once(plain)));
    expect(Buffer.from(twice).equals(Buffer.from(sealed))).toBe(false);
  });
});
