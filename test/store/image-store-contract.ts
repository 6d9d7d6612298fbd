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
    test("insertImage() returns the stored record and findImage() returns the same bytes", async () => {
      const input = newImage(alice, "cat.png", { size: 5, cipherSize: 33 });
      const rec = await store.insertImage(input);
      expect(rec.seq).toBeGreaterThan(0);
      expect(rec.createdAt).toBeGreaterThan(0);
      expect(rec).toMatchObject({ id: input.id, owner: "alice", name: "cat.png", size: 5, cipherSize: 33 });
      expect(rec.header).toEqual(input.header);
      expect(rec.signature).toEqual(input.signature);
      expect(rec.wrappedKey).toEqual(input.wrappedKey);
      expect(rec.signerSerial).toBe(input.signerSerial);
      expect(await store.findImage(input.id)).toEqual(rec);
      expect(await store.findImage("0".repeat(32))).toBeNull();
    });

    test("insertImage() keeps a given createdAt", async () => {
      expect((await store.insertImage(newImage(alice, "old.png", { createdAt: 42 }))).createdAt).toBe(42);
    });

    test("findImageByName() finds an image by owner and name", async () => {
      const rec = await store.insertImage(newImage(alice, "cat.png"));
      expect(await store.findImageByName("alice", "cat.png")).toEqual(rec);
      expect(await store.findImageByName("bob", "cat.png")).toBeNull();
      expect(await store.findImageByName("alice", "CAT.png")).toBeNull();
    });

    test("insertImage() throws StoreConflictError for a name the owner already used", async () => {
      await store.insertImage(newImage(alice, "cat.png"));
      expect(await store.imageNameTaken(alice.id, "cat.png")).toBe(true);
      expect(await store.imageNameTaken(bob.id, "cat.png")).toBe(false);
      await expect(store.insertImage(newImage(alice, "cat.png"))).rejects.toThrow(StoreConflictError);
      expect((await store.insertImage(newImage(bob, "cat.png"))).owner).toBe("bob");
    });

    test("insertImage() refuses an id that is not 32 lower-case hex characters", async () => {
      for (const id of ["../etc/passwd", "A".repeat(32), "a".repeat(31), `${"a".repeat(31)}/`]) {
        await expect(store.insertImage(newImage(alice, `x${id.length}`, { id }))).rejects.toThrow();
      }
      expect((await store.allImageIds()).size).toBe(0);
    });

    test("insertImage() refuses an owner name that does not match ownerId", async () => {
      await expect(store.insertImage({ ...newImage(alice, "cat.png"), owner: "bob" })).rejects.toThrow();
    });

    test("seq strictly increases with every insert", async () => {
      const seqs: number[] = [];
      for (const n of ["a", "b", "c", "d"]) seqs.push((await store.insertImage(newImage(alice, n))).seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    });

    test("inserts issued together: a catch-up cursor read after each one resolves misses none (ST1)", async () => {
      // What a watcher does (LIST after=cursor on every NEW_IMAGE): it only works if seq is commit order.
      const seen = new Set<string>();
      let cursor = 0;
      const catchUp = async () => {
        for (const r of await store.listImages({ after: cursor, limit: 100 })) {
          seen.add(r.id);
          cursor = Math.max(cursor, r.seq);
        }
      };
      const names = Array.from({ length: 12 }, (_, i) => `burst${i}`);
      const inserted = await Promise.all(names.map((n, i) => store.insertImage(newImage(i % 2 ? alice : bob, n)).then(async (rec) => {
        await catchUp();
        return rec;
      })));
      await catchUp();
      expect(seen).toEqual(new Set(inserted.map((r) => r.id)));
      expect(new Set(inserted.map((r) => r.seq)).size).toBe(names.length);
    });

    test("inserts issued together, one of them refused (a name taken, an unknown owner): only those fail, the rest are stored, each with its own seq", async () => {
      // A store that commits inserts in groups must refuse one without undoing the others (bench/README.md "Group commit").
      await store.insertImage(newImage(alice, "taken.png"));
      const jobs = [
        newImage(alice, "g1.png"), newImage(alice, "taken.png"), newImage(bob, "g2.png"),
        { ...newImage(bob, "ghost.png"), ownerId: 999_999 }, newImage(alice, "g3.png"),
      ];
      const settled = await Promise.allSettled(jobs.map((j) => store.insertImage(j)));
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
      // Seq is commit order (ST1), not the order asked: only distinct.
      const seqs = [0, 2, 4].map((i) => (settled[i] as PromiseFulfilledResult<{ seq: number }>).value.seq);
      expect(new Set(seqs).size).toBe(3);
      for (const i of [0, 2, 4]) expect((await store.findImage(jobs[i]!.id))?.name).toBe(jobs[i]!.name);
      for (const i of [1, 3]) expect(await store.findImage(jobs[i]!.id)).toBeNull();
    });

    test("image names are compared exactly: no case folding or Unicode normalisation (ST4)", async () => {
      const nfc = await store.insertImage(newImage(alice, "caf\u00e9.png"));
      const nfd = await store.insertImage(newImage(alice, "cafe\u0301.png"));
      expect(nfd.id).not.toBe(nfc.id);
      expect((await store.findImageByName("alice", "caf\u00e9.png"))?.id).toBe(nfc.id);
      expect((await store.findImageByName("alice", "cafe\u0301.png"))?.id).toBe(nfd.id);
      expect(await store.imageNameTaken(alice.id, "CAFÉ.png")).toBe(false);
    });

    test("a conflicting insertImage() changes nothing (ST5)", async () => {
      const first = await store.insertImage(newImage(alice, "cat.png"));
      const clash = newImage(alice, "cat.png");
      await expect(store.insertImage(clash)).rejects.toThrow(StoreConflictError);
      expect(await store.findImage(clash.id)).toBeNull();
      expect(await store.findImageByName("alice", "cat.png")).toEqual(first);
      expect(await store.allImageIds()).toEqual(new Set([first.id]));
    });

    test("seq is not reused after the newest image is deleted", async () => {
      await store.insertImage(newImage(bob, "first"));
      const newest = await store.insertImage(newImage(alice, "newest"));
      await store.deleteUser("alice");
      const next = await store.insertImage(newImage(bob, "next"));
      expect(next.seq).toBeGreaterThan(newest.seq);
    });

    describe("listImages()", () => {
      let seqs: number[];
      beforeEach(async () => {
        seqs = [];
        for (const i of [1, 2, 3, 4, 5]) seqs.push((await store.insertImage(newImage(i % 2 ? alice : bob, `img${i}`))).seq);
      });
      const at = (i: number) => seqs[i]!;

      test("lists newest first without bounds", async () => {
        expect((await store.listImages({ limit: 10 })).map((r) => r.seq)).toEqual([...seqs].reverse());
      });

      test("lists images before a seq, newest first", async () => {
        expect((await store.listImages({ before: at(3), limit: 10 })).map((r) => r.seq)).toEqual([at(2), at(1), at(0)]);
        expect((await store.listImages({ before: at(3), limit: 2 })).map((r) => r.seq)).toEqual([at(2), at(1)]);
      });

      test("lists images after a seq, oldest first", async () => {
        expect((await store.listImages({ after: at(1), limit: 10 })).map((r) => r.seq)).toEqual([at(2), at(3), at(4)]);
        expect((await store.listImages({ after: at(1), limit: 2 })).map((r) => r.seq)).toEqual([at(2), at(3)]);
        expect((await store.listImages({ after: 0, limit: 1 })).map((r) => r.seq)).toEqual([at(0)]);
        expect(await store.listImages({ after: at(4), limit: 10 })).toEqual([]);
      });

      test("honours both bounds together, oldest first", async () => {
        expect((await store.listImages({ after: at(0), before: at(3), limit: 10 })).map((r) => r.seq))
          .toEqual([at(1), at(2)]);
      });

      test("returns nothing for a limit of zero", async () => {
        expect(await store.listImages({ limit: 0 })).toEqual([]);
      });

      test("returns full records with the owner's name", async () => {
        const [newest] = await store.listImages({ limit: 1 });
        expect(newest).toEqual((await store.findImage(newest!.id))!);
        expect(newest!.owner).toBe("alice");
      });
    });

    test("allImageIds() returns every stored id", async () => {
      const ids: string[] = [];
      for (const n of ["a", "b", "c"]) ids.push((await store.insertImage(newImage(alice, n))).id);
      expect(await store.allImageIds()).toEqual(new Set(ids));
    });

    // --- time-stamps (issue 12, ENVELOPE.md G9): the token is kept with the image.
    test("insertImage() keeps a given timestampToken; without one the record's token is null", async () => {
      const token = new Uint8Array([0x30, 3, 2, 1, 7]);
      const stamped = await store.insertImage(newImage(alice, "stamped.png", { timestampToken: token }));
      expect(stamped.timestampToken).toEqual(token);
      expect((await store.findImage(stamped.id))?.timestampToken).toEqual(token);
      expect((await store.insertImage(newImage(alice, "plain.png"))).timestampToken).toBeNull();
    });

    test("listUnstampedImages() pages the images without a token oldest first; setTimestampToken() stamps once, never replaces", async () => {
      const a = await store.insertImage(newImage(alice, "a"));
      await store.insertImage(newImage(alice, "b", { timestampToken: new Uint8Array([1]) }));
      const c = await store.insertImage(newImage(bob, "c"));
      expect((await store.listUnstampedImages(0, 10)).map((r) => r.id)).toEqual([a.id, c.id]);
      expect((await store.listUnstampedImages(a.seq, 10)).map((r) => r.id)).toEqual([c.id]);
      expect((await store.listUnstampedImages(0, 1)).map((r) => r.id)).toEqual([a.id]);
      expect(await store.listUnstampedImages(0, 0)).toEqual([]);
      expect(await store.setTimestampToken(a.id, new Uint8Array([2, 2]))).toBe(true);
      expect(await store.setTimestampToken(a.id, new Uint8Array([3]))).toBe(false);
      expect(await store.setTimestampToken("f".repeat(32), new Uint8Array([3]))).toBe(false);
      expect((await store.findImage(a.id))?.timestampToken).toEqual(new Uint8Array([2, 2]));
      expect((await store.listUnstampedImages(0, 10)).map((r) => r.id)).toEqual([c.id]);
    });

    test("an image stored through a second handle is visible through the first", async () => {
      const other = await h.twin();
      try {
        const rec = await other.insertImage(newImage(alice, "remote.png"));
        expect(await store.findImage(rec.id)).toEqual(rec);
      } finally {
        await other.close();
      }
    });
  });
}
