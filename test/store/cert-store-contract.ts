/** The CertStore part of the Store contract; run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import { type Store, StoreConflictError, type UserRecord } from "../../src/server/ports.ts";
import { bytes, newCert } from "./fixtures.ts";
import type { StoreFixture, StoreHarness } from "./store-contract.ts";

export function certStoreContract(f: StoreFixture): void {
  let h: StoreHarness;
  let store: Store;
  let alice: UserRecord;
  let bob: UserRecord;
  beforeEach(() => {
    ({ h, store, alice, bob } = f);
  });

  describe("certificates", () => {
    test("addCert() keeps the exact DER and findCert() finds it by any spelling of the serial", async () => {
      const der = bytes(900);
      const rec = await store.addCert(newCert(alice.id, "00:8F:A1", der));
      expect(rec.serial).toBe("8fa1");
      expect(rec.username).toBe("alice");
      expect(rec.der).toEqual(der);
      expect(rec.der).toBeInstanceOf(Uint8Array);
      expect(rec.revokedAt).toBeNull();
      expect(await store.findCert("8fa1")).toEqual(rec);
      expect(await store.findCert("008FA1")).toEqual(rec);
      expect(await store.findCert("8f:a1")).toEqual(rec);
    });

    test("addCert() throws StoreConflictError for a serial already recorded", async () => {
      await store.addCert(newCert(alice.id, "01"));
      await expect(store.addCert(newCert(bob.id, "0001"))).rejects.toThrow(StoreConflictError);
    });

    test("addCert() refuses an unknown user", async () => {
      await expect(store.addCert(newCert(999_999, "02"))).rejects.toThrow();
    });

    test("findCert() returns null for an unknown or malformed serial", async () => {
      expect(await store.findCert("abcd")).toBeNull();
      expect(await store.findCert("not hex")).toBeNull();
      expect(await store.findCert("")).toBeNull();
    });

    test("listCerts() lists every certificate, or one user's", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      await store.addCert(newCert(alice.id, "a2"));
      await store.addCert(newCert(bob.id, "b1"));
      expect((await store.listCerts()).map((c) => c.serial).sort()).toEqual(["a1", "a2", "b1"]);
      expect((await store.listCerts("alice")).map((c) => c.serial).sort()).toEqual(["a1", "a2"]);
      expect(await store.listCerts("mallory")).toEqual([]);
    });

    test("revokeSerial() revokes once and returns false when unknown or already revoked", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      expect(await store.revokeSerial("A1", 1234)).toBe(true);
      expect((await store.findCert("a1"))?.revokedAt).toBe(1234);
      expect(await store.revokeSerial("a1", 5678)).toBe(false);
      expect((await store.findCert("a1"))?.revokedAt).toBe(1234);
      expect(await store.revokeSerial("ffff", 1)).toBe(false);
      expect(await store.revokeSerial("zz", 1)).toBe(false);
    });

    test("revokeUser() revokes every unrevoked certificate of a user and counts them", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      await store.addCert(newCert(alice.id, "a2"));
      await store.addCert(newCert(alice.id, "a3"));
      await store.addCert(newCert(bob.id, "b1"));
      await store.revokeSerial("a1", 10);
      expect(await store.revokeUser("alice", 20)).toBe(2);
      expect(await store.revokeUser("alice", 30)).toBe(0);
      expect(await store.revokeUser("mallory", 30)).toBe(0);
      expect((await store.findCert("a1"))?.revokedAt).toBe(10);
      expect((await store.findCert("a3"))?.revokedAt).toBe(20);
      expect((await store.findCert("b1"))?.revokedAt).toBeNull();
    });

    test("listRevoked() lists every revoked serial with its time", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      await store.addCert(newCert(bob.id, "b1"));
      await store.addCert(newCert(bob.id, "b2"));
      expect(await store.listRevoked()).toEqual([]);
      await store.revokeSerial("b2", 200);
      await store.revokeSerial("a1", 100);
      const revoked = (await store.listRevoked()).sort((x, y) => x.revokedAt - y.revokedAt);
      expect(revoked).toEqual([{ serial: "a1", revokedAt: 100 }, { serial: "b2", revokedAt: 200 }]);
    });

    // --- revocation by date (issue 12, ENVELOPE.md V13): reason and invalidity date are kept for the CRL.
    test("revokeSerial() and revokeUser() keep a reason and invalidity date; listRevoked() and findCert() return them, unspecified as none", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      await store.addCert(newCert(alice.id, "a2"));
      await store.addCert(newCert(bob.id, "b1"));
      await store.addCert(newCert(bob.id, "b2"));
      expect(await store.revokeSerial("a1", 100, { reason: "keyCompromise", invalidityDate: 40 })).toBe(true);
      expect(await store.revokeSerial("a2", 110, { reason: "unspecified" })).toBe(true);
      expect(await store.revokeUser("bob", 120, { reason: "affiliationChanged" })).toBe(2);
      const revoked = (await store.listRevoked()).sort((x, y) => x.serial.localeCompare(y.serial));
      expect(revoked).toStrictEqual([
        { serial: "a1", revokedAt: 100, reason: "keyCompromise", invalidityDate: 40 },
        { serial: "a2", revokedAt: 110 },
        { serial: "b1", revokedAt: 120, reason: "affiliationChanged" },
        { serial: "b2", revokedAt: 120, reason: "affiliationChanged" },
      ]);
      expect(await store.findCert("a1")).toMatchObject({ revokedAt: 100, revocationReason: "keyCompromise", invalidityDate: 40 });
      const plain = await store.findCert("a2");
      expect(plain?.revocationReason).toBeUndefined();
      expect(plain?.invalidityDate).toBeUndefined();
    });

    test("revocationVersion() changes only when a revocation is recorded", async () => {
      const v0 = await store.revocationVersion();
      await store.addCert(newCert(alice.id, "a1"));
      await store.revokeSerial("ffff", 1);
      await store.revokeUser("bob", 1);
      expect(await store.revocationVersion()).toBe(v0);
      await store.revokeSerial("a1", 1);
      const v1 = await store.revocationVersion();
      expect(v1).not.toBe(v0);
      await store.addCert(newCert(alice.id, "a2"));
      await store.revokeUser("alice", 2);
      expect(await store.revocationVersion()).not.toBe(v1);
    });

    test("a revocation made through a second handle is seen by the first at once", async () => {
      await store.addCert(newCert(alice.id, "a1"));
      await store.addCert(newCert(alice.id, "a2"));
      const before = await store.revocationVersion();
      const admin = await h.twin();
      try {
        expect(await admin.revokeSerial("a1", 50)).toBe(true);
        expect(await store.revocationVersion()).not.toBe(before);
        expect((await store.findCert("a1"))?.revokedAt).toBe(50);
        const mid = await store.revocationVersion();
        expect(await admin.revokeUser("alice", 60)).toBe(1);
        expect(await store.revocationVersion()).not.toBe(mid);
        expect(await store.listRevoked()).toHaveLength(2);
      } finally {
        await admin.close();
      }
    });

    test("revocationVersion() only grows, whichever handle records the revocation (ST3)", async () => {
      for (const serial of ["a1", "a2", "a3"]) await store.addCert(newCert(alice.id, serial));
      const admin = await h.twin();
      try {
        const seen = [await store.revocationVersion()];
        await store.revokeSerial("a1", 1);
        seen.push(await admin.revocationVersion());
        await admin.revokeSerial("a2", 2);
        seen.push(await store.revocationVersion());
        await store.deleteUser("alice");
        seen.push(await admin.revocationVersion());
        for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
      } finally {
        await admin.close();
      }
    });

    test("a conflicting addCert() changes nothing (ST5)", async () => {
      const first = await store.addCert(newCert(alice.id, "c1"));
      await expect(store.addCert(newCert(bob.id, "c1"))).rejects.toThrow(StoreConflictError);
      expect(await store.findCert("c1")).toEqual(first);
      expect(await store.listCerts("bob")).toEqual([]);
    });
  });
}
