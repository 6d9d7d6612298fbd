/** CrlCache (P26, ports.ts ST9): the CRL served lists every revocation committed before it was asked for, is signed once per version, and is stored for every node. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { CertificateAuthority, createCa, verifyCrl } from "../../src/pki/index.ts";
import { CrlCache, nextCrlNumber, REFRESH_AFTER_MS } from "../../src/server/crl-cache.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { newCert, tempDir } from "../store/fixtures.ts";
import { crlNumber } from "../support/openssl-crl.ts";

// RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(30_000);

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await CertificateAuthority.load(await createCa({ commonName: "sis CA crl-cache-test" }));
}, 60_000);

// A fresh database per test: the CRL is stored, so one test's CRL would be the next one's.
let dir: ReturnType<typeof tempDir>;
let path: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = tempDir("sis-crl-cache-");
  path = join(dir.path, "sis.db");
  store = SqliteStore.open(path);
  const userId = (await store.createUser("alice", "$argon2id$unused")).id;
  for (const serial of ["a1", "a2", "a3"]) await store.addCert(newCert(userId, serial));
});
afterEach(async () => {
  await store.close();
  dir[Symbol.dispose]();
});
afterAll(() => {});

async function revoked(der: Uint8Array): Promise<string[]> {
  return [...(await verifyCrl(der, ca.certDer)).revokedSerials].sort();
}

/** The CA, counting its signings. */
function countingCa() {
  let signed = 0;
  return {
    get signed() {
      return signed;
    },
    createCrl: (req: Parameters<CertificateAuthority["createCrl"]>[0]) => {
      signed++;
      return ca.createCrl(req);
    },
  };
}

describe("CrlCache", () => {
  test("callers that ask at once share one signing, and the next call reuses it", async () => {
    const counted = countingCa();
    const cache = new CrlCache(counted, store);
    const [a, b] = await Promise.all([cache.current(), cache.current()]);
    expect(a).toBe(b);
    expect(await cache.current()).toBe(a);
    expect(counted.signed).toBe(1);
  });

  test("a revocation recorded while a CRL is being signed is in the CRL asked for after it", async () => {
    // The first signing is held at the CA, after it has read the revocations, until the revocation commits.
    let entered!: () => void;
    const inCa = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let signed = 0;
    const gatedCa = {
      createCrl: async (req: Parameters<CertificateAuthority["createCrl"]>[0]) => {
        if (signed++ === 0) {
          entered();
          await held;
        }
        return ca.createCrl(req);
      },
    };
    const cache = new CrlCache(gatedCa, store);
    const early = cache.current();
    await inCa;
    expect(await store.revokeSerial("a1", Date.now())).toBe(true);
    const later = cache.current();
    release();
    expect(await revoked(await later)).toContain("a1");
    expect(await revoked(await early)).not.toContain("a1");
    // The older signing does not replace the newer CRL.
    expect(await cache.current()).toBe(await later);
    expect(signed).toBe(2);
  });

  test("a revocation made through another handle, as by `sis admin revoke`, gives a new CRL with a higher number", async () => {
    const cache = new CrlCache(ca, store);
    const before = await cache.current();
    const admin = SqliteStore.open(path);
    try {
      expect(await admin.revokeSerial("a2", Date.now())).toBe(true);
    } finally {
      await admin.close();
    }
    const after = await cache.current();
    expect(after).not.toBe(before);
    expect(await revoked(after)).toEqual(["a2"]);
    expect(crlNumber(after)).toBeGreaterThan(crlNumber(before));
  });

  test("another node's cache serves the stored CRL byte for byte and signs nothing; after a restart the number goes on from the stored one", async () => {
    // A clock that stands still: the number then grows by exactly one a signing (nextCrlNumber).
    const t0 = Date.now();
    const clock = () => t0;
    const a = new CrlCache(ca, store, clock);
    const first = await a.current();
    const counted = countingCa();
    const other = SqliteStore.open(path);
    try {
      const b = new CrlCache(counted, other, clock);
      expect(await b.current()).toEqual(first);
      expect(counted.signed).toBe(0);
      await store.revokeSerial("a3", Date.now());
      const [fromA, fromB] = await Promise.all([a.current(), b.current()]);
      expect(fromB).toEqual(fromA);
      expect(await revoked(fromA)).toEqual(["a3"]);
      // One of the two signed it, not both: the stored one covers the version for the other.
      expect(crlNumber(fromA)).toBe(crlNumber(first) + 1);
    } finally {
      await other.close();
    }
    // A restart: a new handle and a new cache; the next CRL's number is above the stored one.
    await store.revokeSerial("a1", Date.now());
    const reopened = SqliteStore.open(path);
    try {
      const again = await new CrlCache(ca, reopened, clock).current();
      expect(crlNumber(again)).toBe(crlNumber(first) + 2);
      expect(await revoked(again)).toEqual(["a1", "a3"]);
    } finally {
      await reopened.close();
    }
  });

  test("a stored CRL older than the refresh is re-signed once, with the next number; the other node then takes that one", async () => {
    let now = Date.now();
    const clock = () => now;
    const counted = countingCa();
    const a = new CrlCache(counted, store, clock);
    const first = await a.current();
    now += REFRESH_AFTER_MS + 1000;
    const b = new CrlCache(counted, store, clock);
    const refreshed = await a.current();
    expect(refreshed).not.toEqual(first);
    expect(crlNumber(refreshed)).toBe(Math.floor(now / 1000));
    expect(crlNumber(refreshed)).toBeGreaterThan(crlNumber(first));
    expect(await b.current()).toEqual(refreshed);
    expect(counted.signed).toBe(2);
  });

  test("the number is one above the stored one and never below the signing's Unix seconds (what earlier builds used)", () => {
    const now = 1_800_000_000_000;
    expect(nextCrlNumber(null, now)).toBe(1_800_000_000);
    expect(nextCrlNumber({ number: 1_900_000_000, revocationVersion: 0, signedAt: 0, der: new Uint8Array() }, now)).toBe(1_900_000_001);
    expect(nextCrlNumber({ number: 5, revocationVersion: 0, signedAt: 0, der: new Uint8Array() }, now)).toBe(1_800_000_000);
  });
});
