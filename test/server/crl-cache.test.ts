/** CrlCache (P26): the CRL served lists every revocation committed before it was asked for, and is signed once per version. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { CertificateAuthority, createCa, verifyCrl } from "../../src/pki/index.ts";
import { CrlCache } from "../../src/server/crl-cache.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { newCert, tempDir } from "../store/fixtures.ts";

// RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(30_000);

const dir = tempDir("sis-crl-cache-");
let store: SqliteStore;
let ca: CertificateAuthority;
let userId: number;

beforeAll(async () => {
  store = SqliteStore.open(join(dir.path, "sis.db"));
  ca = await CertificateAuthority.load(await createCa({ commonName: "sis CA crl-cache-test" }));
  userId = (await store.createUser("alice", "$argon2id$unused")).id;
  for (const serial of ["a1", "a2", "a3"]) await store.addCert(newCert(userId, serial));
}, 60_000);

afterAll(async () => {
  await store.close();
  dir[Symbol.dispose]();
});

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

  test("a revocation made through another handle, as by `sis admin revoke`, gives a new CRL", async () => {
    const cache = new CrlCache(ca, store);
    const before = await cache.current();
    const admin = SqliteStore.open(join(dir.path, "sis.db"));
    try {
      expect(await admin.revokeSerial("a2", Date.now())).toBe(true);
    } finally {
      await admin.close();
    }
    const after = await cache.current();
    expect(after).not.toBe(before);
    expect(await revoked(after)).toEqual(expect.arrayContaining(["a1", "a2"]));
  });
});
