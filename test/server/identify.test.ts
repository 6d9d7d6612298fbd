/** identify() (P4): a presented certificate is a user only if our own records hold its serial and exact bytes, unrevoked and in date. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority, certInfo, createCa, createKeyAndCsr, fromPem, type IssuedCert } from "../../src/pki/index.ts";
import { readCertSerial } from "../../src/server/cert-serial.ts";
import { identify } from "../../src/server/identify.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { certFile } from "../support/auth-kit.ts";

// RSA key generation and OpenSSL runs on a shared two-core machine: allow for load.
setDefaultTimeout(30_000);

let dir: string;
let store: SqliteStore;
let ca: CertificateAuthority;
let aliceId: number;
/** Recorded for alice. */
let alice: IssuedCert;
/** Issued by our CA for alice but never recorded. */
let unrecorded: IssuedCert;

async function issue(username: string): Promise<IssuedCert> {
  const { csrDer } = await createKeyAndCsr({ username, bits: 2048 });
  return ca.issueUserCert({ csrDer, username });
}

async function record(userId: number, cert: IssuedCert, der = cert.der) {
  return await store.addCert({ serial: cert.serial, userId, der, notBefore: cert.notBefore, notAfter: cert.notAfter });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sis-identify-"));
  store = SqliteStore.open(join(dir, "sis.db"));
  ca = await CertificateAuthority.load(await createCa({ commonName: "sis CA identify-test" }));
  aliceId = (await store.createUser("alice", "$argon2id$not-used-here")).id;
  [alice, unrecorded] = await Promise.all([issue("alice"), issue("alice")]);
  await record(aliceId, alice);
}, 60_000);

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("identify()", () => {
  test("no certificate means an anonymous connection", async () => {
    expect(await identify(store, null)).toEqual({ anonymous: true });
    expect(await identify(store, new Uint8Array())).toEqual({ anonymous: true });
  });

  test("a recorded, unrevoked certificate in its validity identifies its user", async () => {
    const result = await identify(store, alice.der);
    expect(result).toEqual({ identity: { userId: aliceId, username: "alice", serial: alice.serial, certDer: expect.any(Uint8Array) } });
    if (!("identity" in result)) throw new Error("unreachable");
    expect(Buffer.compare(result.identity.certDer, alice.der)).toBe(0);
  });

  test("bytes that are not a certificate are CERT_UNKNOWN, not an exception", async () => {
    const result = await identify(store, new TextEncoder().encode("not a certificate at all"));
    expect(result).toMatchObject({ refused: "CERT_UNKNOWN" });
  });

  test("a certificate from a foreign CA with CN=alice is CERT_UNKNOWN", async () => {
    const foreign = fromPem(certFile("foreign-alice.pem"), "CERTIFICATE");
    expect(await identify(store, foreign)).toMatchObject({ refused: "CERT_UNKNOWN" });
  });

  test("a certificate our CA signed but the store never recorded is CERT_UNKNOWN", async () => {
    expect(await identify(store, unrecorded.der)).toMatchObject({ refused: "CERT_UNKNOWN" });
  });

  test("a known serial presented with other bytes is CERT_UNKNOWN: the serial alone proves nothing", async () => {
    const bobId = (await store.createUser("bob", "$argon2id$not-used-here")).id;
    const real = await issue("bob");
    const other = await issue("bob");
    // The record holds `real`'s serial with `other`'s bytes: presenting `real` must not match it.
    await record(bobId, real, other.der);
    expect(await identify(store, real.der)).toMatchObject({ refused: "CERT_UNKNOWN" });
  });

  test("a revoked certificate is CERT_REVOKED", async () => {
    const carolId = (await store.createUser("carol", "$argon2id$not-used-here")).id;
    const cert = await issue("carol");
    await record(carolId, cert);
    expect(await identify(store, cert.der)).toHaveProperty("identity");
    expect(await store.revokeSerial(cert.serial, Date.now())).toBe(true);
    expect(await identify(store, cert.der)).toMatchObject({ refused: "CERT_REVOKED" });
  });

  test("revoking one certificate of a user leaves the others valid", async () => {
    const daveId = (await store.createUser("dave", "$argon2id$not-used-here")).id;
    const [laptop, phone] = await Promise.all([issue("dave"), issue("dave")]);
    await record(daveId, laptop);
    await record(daveId, phone);
    await store.revokeSerial(laptop.serial, Date.now());
    expect(await identify(store, laptop.der)).toMatchObject({ refused: "CERT_REVOKED" });
    expect(await identify(store, phone.der)).toMatchObject({ identity: { username: "dave", serial: phone.serial } });
  });

  test("a recorded certificate after its notAfter is CERT_EXPIRED", async () => {
    expect(await identify(store, alice.der, alice.notAfter + 1)).toMatchObject({ refused: "CERT_EXPIRED" });
  });

  test("a recorded certificate before its notBefore is CERT_EXPIRED", async () => {
    expect(await identify(store, alice.der, alice.notBefore - 1)).toMatchObject({ refused: "CERT_EXPIRED" });
  });

  test("a certificate issued in the past with a short lifetime is refused once its record has run out", async () => {
    const erinId = (await store.createUser("erin", "$argon2id$not-used-here")).id;
    const { csrDer } = await createKeyAndCsr({ username: "erin", bits: 2048 });
    const old = await ca.issueUserCert({ csrDer, username: "erin", lifetimeDays: 1, now: new Date(Date.now() - 10 * 86_400_000) });
    await record(erinId, old);
    expect(await identify(store, old.der)).toMatchObject({ refused: "CERT_EXPIRED" });
  });
});

describe("readCertSerial()", () => {
  test("reads the serial each issued certificate was recorded under", async () => {
    for (const cert of [alice, unrecorded]) expect(readCertSerial(cert.der)).toBe(cert.serial);
  });

  test("reads a foreign certificate's serial as X.509 does (the exact-bytes check then refuses it)", () => {
    const foreign = fromPem(certFile("foreign-alice.pem"), "CERTIFICATE");
    expect(readCertSerial(foreign)).toBe(certInfo(foreign).serial);
  });

  test("returns null for bytes that are not a certificate, truncated or with trailing bytes", () => {
    expect(readCertSerial(new TextEncoder().encode("not a certificate at all"))).toBeNull();
    expect(readCertSerial(new Uint8Array([0x30, 0x03, 0x30, 0x01, 0x02]))).toBeNull();
    expect(readCertSerial(alice.der.subarray(0, alice.der.length - 1))).toBeNull();
    const trailing = new Uint8Array(alice.der.length + 1);
    trailing.set(alice.der);
    expect(readCertSerial(trailing)).toBeNull();
    expect(readCertSerial(new Uint8Array(20 * 1024).fill(0x30))).toBeNull();
  });

  test("reads a certificate that lies inside a larger buffer", () => {
    const padded = new Uint8Array(alice.der.length + 8);
    padded.set(alice.der, 4);
    expect(readCertSerial(padded.subarray(4, 4 + alice.der.length))).toBe(alice.serial);
  });
});
