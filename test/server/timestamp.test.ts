/** The server's stamping (PROTOCOL.md T1, T3): a token per signature, and the upgrade stamps only images whose uploader's certificate is valid and unrevoked. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { signatureValueOf, signImage } from "../../src/crypto/index.ts";
import { verifyTimeStampToken } from "../../src/pki/index.ts";
import type { Logger } from "../../src/server/logger.ts";
import { stampSignature, stampStoredImages, type Stamper } from "../../src/server/timestamp.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { sharedCa } from "../pki/helpers.ts";
import { sharedTsa, userWithKey } from "../pki/tsa-fixtures.ts";
import { newCert, newImage, tempDir } from "../store/fixtures.ts";

// RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

const DAY = 86_400_000;
const dir = tempDir("sis-timestamp-");
let store: SqliteStore;
let cms: Uint8Array;

function recordingLog(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, ...(fields && { fields }) });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

beforeAll(async () => {
  store = SqliteStore.open(join(dir.path, "sis.db"));
  const dora = await userWithKey("dora");
  cms = await signImage({ owner: "dora", name: "a.png", contentType: "image/png", digest: new Uint8Array(32).fill(3), certDer: dora.issued.der, privateKeyPkcs8: dora.privateKeyPkcs8 });
});

afterAll(async () => {
  await store.close();
  dir[Symbol.dispose]();
});

describe("stampSignature() (T1)", () => {
  test("a token over the signature value that V11 accepts", async () => {
    const { ca } = await sharedCa();
    const token = await stampSignature((await sharedTsa()).tsa, cms, recordingLog(), "x");
    const stamp = await verifyTimeStampToken({ tokenDer: token!, signatureValue: signatureValueOf(cms), caCertDer: ca.certDer });
    expect(Math.abs(stamp.genTime.getTime() - Date.now())).toBeLessThan(60_000);
  });

  test("a signature that does not parse gets no token (warned); a failing TSA gets none (logged as an error)", async () => {
    const log = recordingLog();
    expect(await stampSignature((await sharedTsa()).tsa, new Uint8Array([1, 2, 3]), log, "bad")).toBeNull();
    const broken: Stamper = { stampSignature: () => Promise.reject(new Error("disk on fire")) };
    expect(await stampSignature(broken, cms, log, "tsa")).toBeNull();
    expect(log.lines.map((l) => [l.level, l.fields?.id])).toEqual([["warn", "bad"], ["error", "tsa"]]);
  });
});

describe("stampStoredImages() (T3)", () => {
  test("stamps the unstamped images of valid, unrevoked certificates only, leaves stamped ones alone, and logs the counts", async () => {
    const now = Date.now();
    const alice = await store.createUser("alice", "$argon2id$unused");
    await store.addCert({ ...newCert(alice.id, "a1"), notBefore: now - DAY, notAfter: now + DAY });
    await store.addCert({ ...newCert(alice.id, "a2"), notBefore: now - 3 * DAY, notAfter: now - DAY }); // expired
    await store.addCert({ ...newCert(alice.id, "a3"), notBefore: now - DAY, notAfter: now + DAY });
    await store.revokeSerial("a3", now - 1000);
    const valid = await store.insertImage(newImage(alice, "valid.png", { signature: cms, signerSerial: "a1" }));
    const expired = await store.insertImage(newImage(alice, "expired.png", { signature: cms, signerSerial: "a2" }));
    const revoked = await store.insertImage(newImage(alice, "revoked.png", { signature: cms, signerSerial: "a3" }));
    const unknown = await store.insertImage(newImage(alice, "unknown.png", { signature: cms, signerSerial: "ff" }));
    const kept = new Uint8Array([0x30, 0]);
    const stamped = await store.insertImage(newImage(alice, "stamped.png", { signature: cms, signerSerial: "a1", timestampToken: kept }));

    const log = recordingLog();
    expect(await stampStoredImages(store, (await sharedTsa()).tsa, log, now)).toEqual({ stamped: 1, skipped: 3 });
    expect((await store.findImage(valid.id))?.timestampToken).not.toBeNull();
    for (const r of [expired, revoked, unknown]) expect((await store.findImage(r.id))?.timestampToken).toBeNull();
    expect((await store.findImage(stamped.id))?.timestampToken).toEqual(kept);
    expect(log.lines).toEqual([{ level: "info", message: "time-stamped images stored before the server had a TSA", fields: { stamped: 1, skipped: 3 } }]);

    // The next start has only the skipped ones left, and stamps none of them.
    expect(await stampStoredImages(store, (await sharedTsa()).tsa, recordingLog(), now)).toEqual({ stamped: 0, skipped: 3 });
  });
});
