/** The Store contract (ports.ts): one suite every backend must pass. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { type Store, StoreConflictError, type UserRecord } from "../../src/server/ports.ts";
import { bytes, newCert, newImage } from "./fixtures.ts";

export interface StoreHarness {
  store: Store;
  /** A second, independent handle on the same data: another process such as `sis admin revoke`. */
  twin(): Store;
  cleanup(): void;
}

export function runStoreContract(name: string, make: () => StoreHarness): void {
  describe(`${name} (Store contract)`, () => {
    let h: StoreHarness;
    let store: Store;
    let alice: UserRecord;
    let bob: UserRecord;
    beforeEach(() => {
      h = make();
      store = h.store;
      alice = store.createUser("alice", "$argon2id$alice");
      bob = store.createUser("bob", "$argon2id$bob");
    });
    afterEach(() => h.cleanup());

    describe("users", () => {
      test("createUser() returns a record that findUser() finds", () => {
        expect(alice.username).toBe("alice");
        expect(alice.passwordHash).toBe("$argon2id$alice");
        expect(alice.createdAt).toBeGreaterThan(0);
        expect(store.findUser("alice")).toEqual(alice);
        expect(alice.id).not.toBe(bob.id);
      });

      test("findUser() returns null for an unknown name", () => {
        expect(store.findUser("mallory")).toBeNull();
        expect(store.findUser("ALICE")).toBeNull();
      });

      test("createUser() throws StoreConflictError for a taken username", () => {
        expect(() => store.createUser("alice", "x")).toThrow(StoreConflictError);
      });

      test("deleteUser() hides the user and returns false for an unknown one", () => {
        expect(store.deleteUser("alice")).toBe(true);
        expect(store.findUser("alice")).toBeNull();
        expect(store.deleteUser("alice")).toBe(false);
        expect(store.deleteUser("mallory")).toBe(false);
        expect(store.findUser("bob")).not.toBeNull();
      });

      test("deleteUser() revokes the user's certificates so they no longer authenticate", () => {
        store.addCert(newCert(alice.id, "0a01"));
        store.addCert(newCert(bob.id, "0b01"));
        const version = store.revocationVersion();
        store.deleteUser("alice");
        expect(store.findCert("0a01")?.revokedAt).not.toBeNull();
        expect(store.findCert("0b01")?.revokedAt).toBeNull();
        expect(store.listRevoked().map((r) => r.serial)).toEqual(["0a01"]);
        expect(store.revocationVersion()).not.toBe(version);
      });

      test("deleteUser() removes the user's images and keeps the name reserved", () => {
        const img = store.insertImage(newImage(alice, "cat.png"));
        const kept = store.insertImage(newImage(bob, "dog.png"));
        store.deleteUser("alice");
        expect(store.findImage(img.id)).toBeNull();
        expect(store.allImageIds()).toEqual(new Set([kept.id]));
        expect(() => store.createUser("alice", "x")).toThrow(StoreConflictError);
      });
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

    describe("images", () => {
      test("insertImage() returns the stored record and findImage() returns the same bytes", () => {
        const input = newImage(alice, "cat.png", { size: 5, cipherSize: 33 });
        const rec = store.insertImage(input);
        expect(rec.seq).toBeGreaterThan(0);
        expect(rec.createdAt).toBeGreaterThan(0);
        expect(rec).toMatchObject({ id: input.id, owner: "alice", name: "cat.png", size: 5, cipherSize: 33 });
        expect(rec.header).toEqual(input.header);
        expect(rec.signature).toEqual(input.signature);
        expect(rec.wrappedKey).toEqual(input.wrappedKey);
        expect(rec.signerSerial).toBe(input.signerSerial);
        expect(store.findImage(input.id)).toEqual(rec);
        expect(store.findImage("0".repeat(32))).toBeNull();
      });

      test("insertImage() keeps a given createdAt", () => {
        expect(store.insertImage(newImage(alice, "old.png", { createdAt: 42 })).createdAt).toBe(42);
      });

      test("findImageByName() finds an image by owner and name", () => {
        const rec = store.insertImage(newImage(alice, "cat.png"));
        expect(store.findImageByName("alice", "cat.png")).toEqual(rec);
        expect(store.findImageByName("bob", "cat.png")).toBeNull();
        expect(store.findImageByName("alice", "CAT.png")).toBeNull();
      });

      test("insertImage() throws StoreConflictError for a name the owner already used", () => {
        store.insertImage(newImage(alice, "cat.png"));
        expect(store.imageNameTaken(alice.id, "cat.png")).toBe(true);
        expect(store.imageNameTaken(bob.id, "cat.png")).toBe(false);
        expect(() => store.insertImage(newImage(alice, "cat.png"))).toThrow(StoreConflictError);
        expect(store.insertImage(newImage(bob, "cat.png")).owner).toBe("bob");
      });

      test("insertImage() refuses an id that is not 32 lower-case hex characters", () => {
        for (const id of ["../etc/passwd", "A".repeat(32), "a".repeat(31), `${"a".repeat(31)}/`]) {
          expect(() => store.insertImage(newImage(alice, `x${id.length}`, { id }))).toThrow();
        }
        expect(store.allImageIds().size).toBe(0);
      });

      test("insertImage() refuses an owner name that does not match ownerId", () => {
        expect(() => store.insertImage({ ...newImage(alice, "cat.png"), owner: "bob" })).toThrow();
      });

      test("seq strictly increases with every insert", () => {
        const seqs = ["a", "b", "c", "d"].map((n) => store.insertImage(newImage(alice, n)).seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
      });

      test("seq is not reused after the newest image is deleted", () => {
        store.insertImage(newImage(bob, "first"));
        const newest = store.insertImage(newImage(alice, "newest"));
        store.deleteUser("alice");
        const next = store.insertImage(newImage(bob, "next"));
        expect(next.seq).toBeGreaterThan(newest.seq);
      });

      describe("listImages()", () => {
        let seqs: number[];
        beforeEach(() => {
          seqs = [1, 2, 3, 4, 5].map((i) => store.insertImage(newImage(i % 2 ? alice : bob, `img${i}`)).seq);
        });
        const at = (i: number) => seqs[i]!;

        test("lists newest first without bounds", () => {
          expect(store.listImages({ limit: 10 }).map((r) => r.seq)).toEqual([...seqs].reverse());
        });

        test("lists images before a seq, newest first", () => {
          expect(store.listImages({ before: at(3), limit: 10 }).map((r) => r.seq)).toEqual([at(2), at(1), at(0)]);
          expect(store.listImages({ before: at(3), limit: 2 }).map((r) => r.seq)).toEqual([at(2), at(1)]);
        });

        test("lists images after a seq, oldest first", () => {
          expect(store.listImages({ after: at(1), limit: 10 }).map((r) => r.seq)).toEqual([at(2), at(3), at(4)]);
          expect(store.listImages({ after: at(1), limit: 2 }).map((r) => r.seq)).toEqual([at(2), at(3)]);
          expect(store.listImages({ after: 0, limit: 1 }).map((r) => r.seq)).toEqual([at(0)]);
          expect(store.listImages({ after: at(4), limit: 10 })).toEqual([]);
        });

        test("honours both bounds together, oldest first", () => {
          expect(store.listImages({ after: at(0), before: at(3), limit: 10 }).map((r) => r.seq))
            .toEqual([at(1), at(2)]);
        });

        test("returns nothing for a limit of zero", () => {
          expect(store.listImages({ limit: 0 })).toEqual([]);
        });

        test("returns full records with the owner's name", () => {
          const [newest] = store.listImages({ limit: 1 });
          expect(newest).toEqual(store.findImage(newest!.id)!);
          expect(newest!.owner).toBe("alice");
        });
      });

      test("allImageIds() returns every stored id", () => {
        const ids = ["a", "b", "c"].map((n) => store.insertImage(newImage(alice, n)).id);
        expect(store.allImageIds()).toEqual(new Set(ids));
      });

      test("an image stored through a second handle is visible through the first", () => {
        const other = h.twin();
        try {
          const rec = other.insertImage(newImage(alice, "remote.png"));
          expect(store.findImage(rec.id)).toEqual(rec);
        } finally {
          other.close();
        }
      });
    });
  });
}
