/** ST12, the deletion log (ports.ts): every removed image row logged in its transaction, in commit order, read by every handle on the data. */
import { describe, expect, test } from "bun:test";
import type { ImageRecord } from "../../src/server/ports.ts";
import { newImage } from "./fixtures.ts";
import type { StoreFixture } from "./store-contract.ts";

const logged = (r: ImageRecord) => ({ seq: r.seq, id: r.id, owner: r.owner, name: r.name });

export function deletionLogContract(f: StoreFixture): void {
  describe("the deletion log (ST12)", () => {
    test("is empty at first; deleteImage() logs the row it removed, and nothing for an unknown id", async () => {
      expect(await f.store.highestDeletion()).toBe(0);
      expect(await f.store.listDeletions(0, 10)).toEqual([]);
      const img = await f.store.insertImage(newImage(f.alice, "cat.png"));
      expect(await f.store.deleteImage("f".repeat(32))).toBe(false);
      expect(await f.store.highestDeletion()).toBe(0);
      expect(await f.store.deleteImage(img.id)).toBe(true);
      expect(await f.store.deleteImage(img.id)).toBe(false);
      const first = await f.store.highestDeletion();
      expect(first).toBeGreaterThan(0);
      expect(await f.store.listDeletions(0, 10)).toEqual([{ dseq: first, ...logged(img) }]);
      expect(await f.store.listDeletions(first, 10)).toEqual([]);
      expect(await f.store.listDeletions(0, 0)).toEqual([]);
    });

    test("deleteAccount() with images and deleteUser() log every image they remove; without images nothing; another handle reads it all in dseq order", async () => {
      const a = [await f.store.insertImage(newImage(f.alice, "a1.png")), await f.store.insertImage(newImage(f.alice, "a2.png"))];
      const b = await f.store.insertImage(newImage(f.bob, "b.png"));
      const carol = await f.store.createUser("carol", "$argon2id$carol");
      const kept = await f.store.insertImage(newImage(carol, "kept.png"));
      expect(await f.store.deleteAccount("carol", false, Date.now())).toEqual([]);
      expect((await f.store.deleteAccount("alice", true, Date.now()))?.sort()).toEqual(a.map((r) => r.id).sort());
      expect(await f.store.deleteUser("bob")).toBe(true);
      const twin = await f.h.twin();
      const rows = await twin.listDeletions(0, 10);
      expect(rows.map((r) => r.dseq)).toEqual([...rows.map((r) => r.dseq)].sort((x, y) => x - y));
      expect(new Set(rows.map((r) => r.dseq)).size).toBe(3);
      expect(rows.slice(0, 2).map(({ dseq: _, ...r }) => r).sort((x, y) => x.seq - y.seq)).toEqual(a.map(logged));
      expect(rows[2]).toEqual({ dseq: rows[2]!.dseq, ...logged(b) });
      expect(await twin.highestDeletion()).toBe(rows[2]!.dseq);
      expect(rows.some((r) => r.id === kept.id)).toBe(false);
      // Paging by dseq: after the first row, the other two; a limit bounds the page.
      expect((await twin.listDeletions(rows[0]!.dseq, 1)).map((r) => r.dseq)).toEqual([rows[1]!.dseq]);
    });

    test("a deletion by another handle (sis admin rm) is logged where this one reads it, numbered after its own", async () => {
      const one = await f.store.insertImage(newImage(f.alice, "one.png"));
      const two = await f.store.insertImage(newImage(f.alice, "two.png"));
      expect(await f.store.deleteImage(one.id)).toBe(true);
      const mine = await f.store.highestDeletion();
      const twin = await f.h.twin();
      expect(await twin.deleteImage(two.id)).toBe(true);
      expect(await f.store.listDeletions(mine, 10)).toEqual([{ dseq: await twin.highestDeletion(), ...logged(two) }]);
      expect(await f.store.highestDeletion()).toBeGreaterThan(mine);
    });
  });
}
