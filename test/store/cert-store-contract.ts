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
    test("addCert() keeps the exact DER and findCert() finds it by any spelling of the serial", () => {
      const der = bytes(900);
      const rec = store.addCert(newCert(alice.id, "00:8F:A1", der));
      expect(rec.serial).toBe("8fa1");
      expect(rec.username).toBe("alice");
      expect(rec.der).toEqual(der);
      expect(rec.der).toBeInstanceOf(Uint8Array);
      expect(rec.revokedAt).toBeNull();
      expect(store.findCert("8fa1")).toEqual(rec);
      expect(store.findCert("008FA1")).toEqual(rec);
      expect(store.findCert("8f:a1")).toEqual(rec);
    });

    test("addCert() throws StoreConflictError for a serial already recorded", () => {
      store.addCert(newCert(alice.id, "01"));
      expect(() => store.addCert(newCert(bob.id, "0001"))).toThrow(StoreConflictError);
    });

    test("addCert() refuses an unknown user", () => {
      expect(() => store.addCert(newCert(999_999, "02"))).toThrow();
    });

    test("findCert() returns null for an unknown or malformed serial", () => {
      expect(store.findCert("abcd")).toBeNull();
      expect(store.findCert("not hex")).toBeNull();
      expect(store.findCert("")).toBeNull();
    });

    test("listCerts() lists every certificate, or one user's", () => {
      store.addCert(newCert(alice.id, "a1"));
      store.addCert(newCert(alice.id, "a2"));
      store.addCert(newCert(bob.id, "b1"));
      expect(store.listCerts().map((c) => c.serial).sort()).toEqual(["a1", "a2", "b1"]);
      expect(store.listCerts("alice").map((c) => c.serial).sort()).toEqual(["a1", "a2"]);
      expect(store.listCerts("mallory")).toEqual([]);
    });

    test("revokeSerial() revokes once and returns false when unknown or already revoked", () => {
      store.addCert(newCert(alice.id, "a1"));
      expect(store.revokeSerial("A1", 1234)).toBe(true);
      expect(store.findCert("a1")?.revokedAt).toBe(1234);
      expect(store.revokeSerial("a1", 5678)).toBe(false);
      expect(store.findCert("a1")?.revokedAt).toBe(1234);
      expect(store.revokeSerial("ffff", 1)).toBe(false);
      expect(store.revokeSerial("zz", 1)).toBe(false);
    });

    test("revokeUser() revokes every unrevoked certificate of a user and counts them", () => {
      store.addCert(newCert(alice.id, "a1"));
      store.addCert(newCert(alice.id, "a2"));
      store.addCert(newCert(alice.id, "a3"));
      store.addCert(newCert(bob.id, "b1"));
      store.revokeSerial("a1", 10);
      expect(store.revokeUser("alice", 20)).toBe(2);
      expect(store.revokeUser("alice", 30)).toBe(0);
      expect(store.revokeUser("mallory", 30)).toBe(0);
      expect(store.findCert("a1")?.revokedAt).toBe(10);
      expect(store.findCert("a3")?.revokedAt).toBe(20);
      expect(store.findCert("b1")?.revokedAt).toBeNull();
    });

    test("listRevoked() lists every revoked serial with its time", () => {
      store.addCert(newCert(alice.id, "a1"));
      store.addCert(newCert(bob.id, "b1"));
      store.addCert(newCert(bob.id, "b2"));
      expect(store.listRevoked()).toEqual([]);
      store.revokeSerial("b2", 200);
      store.revokeSerial("a1", 100);
      const revoked = store.listRevoked().sort((x, y) => x.revokedAt - y.revokedAt);
      expect(revoked).toEqual([{ serial: "a1", revokedAt: 100 }, { serial: "b2", revokedAt: 200 }]);
    });

    test("revocationVersion() changes only when a revocation is recorded", () => {
      const v0 = store.revocationVersion();
      store.addCert(newCert(alice.id, "a1"));
      store.revokeSerial("ffff", 1);
      store.revokeUser("bob", 1);
      expect(store.revocationVersion()).toBe(v0);
      store.revokeSerial("a1", 1);
      const v1 = store.revocationVersion();
      expect(v1).not.toBe(v0);
      store.addCert(newCert(alice.id, "a2"));
      store.revokeUser("alice", 2);
      expect(store.revocationVersion()).not.toBe(v1);
    });

    test("a revocation made through a second handle is seen by the first at once", () => {
      store.addCert(newCert(alice.id, "a1"));
      store.addCert(newCert(alice.id, "a2"));
      const before = store.revocationVersion();
      const admin = h.twin();
      try {
        expect(admin.revokeSerial("a1", 50)).toBe(true);
        expect(store.revocationVersion()).not.toBe(before);
        expect(store.findCert("a1")?.revokedAt).toBe(50);
        const mid = store.revocationVersion();
        expect(admin.revokeUser("alice", 60)).toBe(1);
        expect(store.revocationVersion()).not.toBe(mid);
        expect(store.listRevoked()).toHaveLength(2);
      } finally {
        admin.close();
      }
    });
  });
}
