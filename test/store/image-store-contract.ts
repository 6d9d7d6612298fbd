/** The ImageStore part of the Store contract; run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import { type Store, StoreConflictError, type UserRecord } from "../../src/server/ports.ts";
import { newImage } from "./fixtures.ts";
import type { StoreFixture, StoreHarness } from "./store-contract.ts";

export function imageStoreContract(f: StoreFixture): void {
  let h: StoreHarness;
  let store: Store;
  let alice: UserRecord;
  let bob: UserRecord;
  beforeEach(() => {
    ({ h, store, alice, bob } = f);
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
}
