/** Shared helpers for the store tests: temp dirs, records, random bytes. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NewImage, UserRecord } from "../../src/server/ports.ts";

export function tempDir(prefix = "sis-store-"): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export function randomId(): string {
  return randomBytes(16).toString("hex");
}

export function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

export function newImage(owner: UserRecord, name: string, extra: Partial<NewImage> = {}): NewImage {
  return {
    id: randomId(),
    ownerId: owner.id,
    owner: owner.username,
    name,
    contentType: "image/png",
    size: 1000,
    cipherSize: 1100,
    header: bytes(40),
    signature: bytes(300),
    wrappedKey: bytes(256),
    signerSerial: "7f01",
    ...extra,
  };
}

export function newCert(userId: number, serial: string, der = bytes(700)) {
  return { serial, userId, der, notBefore: 1_700_000_000_000, notAfter: 1_800_000_000_000 };
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return chunks;
}

export { concat } from "../support/bytes.ts";
