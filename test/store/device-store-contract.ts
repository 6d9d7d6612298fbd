/** The DeviceStore part of the Store contract (devices, link codes, usage, deletion); run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import type { Store, UserRecord } from "../../src/server/ports.ts";
import { bytes, newCert, newImage } from "./fixtures.ts";
import type { StoreFixture, StoreHarness } from "./store-contract.ts";

export function deviceStoreContract(f: StoreFixture): void {
  let h: StoreHarness;
  let store: Store;
  let alice: UserRecord;
  let bob: UserRecord;
  beforeEach(() => {
    ({ h, store, alice, bob } = f);
  });

  describe("devices (M21, M23)", () => {
    test("listDevices() gives a user's own certificates, oldest first, with device name and last use", async () => {
      await store.addCert(newCert(alice.id, "0a"));
      await store.addCert(newCert(alice.id, "0b"));
      await store.addCert(newCert(bob.id, "0c"));
      await store.setDeviceName("0A", "laptop");
      await store.touchCert("0b", 1_750_000_000_000);
      const list = await store.listDevices(alice.id);
      expect(list.map((d) => [d.serial, d.device, d.lastSeenAt, d.revokedAt])).toEqual([["0a", "laptop", null, null], ["0b", null, 1_750_000_000_000, null]]);
      expect(list[0]!.notAfter).toBe(1_800_000_000_000);
      expect(await store.listDevices(bob.id)).toHaveLength(1);
    });

    test("touchCert() writes at most once a minute per certificate, and a revocation shows in the list", async () => {
      await store.addCert(newCert(alice.id, "0d"));
      await store.touchCert("0d", 1_750_000_000_000);
      await store.touchCert("0d", 1_750_000_030_000);
      expect((await store.listDevices(alice.id))[0]!.lastSeenAt).toBe(1_750_000_000_000);
      await store.touchCert("0d", 1_750_000_061_000);
      expect((await store.listDevices(alice.id))[0]!.lastSeenAt).toBe(1_750_000_061_000);
      await store.revokeSerial("0d", 1_750_000_100_000);
      expect((await store.listDevices(alice.id))[0]!.revokedAt).toBe(1_750_000_100_000);
    });
  });

  describe("link codes (M20, M22)", () => {
    test("consumeLinkCode() gives the user once; then used; an unknown hash is unknown; past expiry is expired", async () => {
      const hash = bytes(32);
      await store.createLinkCode(alice.id, hash, 1_000, 601_000);
      expect(await store.consumeLinkCode(bytes(32), 2_000)).toEqual({ refused: "unknown" });
      expect(await store.consumeLinkCode(hash, 2_000)).toEqual({ userId: alice.id, username: "alice" });
      expect(await store.consumeLinkCode(hash, 3_000)).toEqual({ refused: "used" });
      const late = bytes(32);
      await store.createLinkCode(alice.id, late, 1_000, 601_000);
      expect(await store.consumeLinkCode(late, 601_000)).toEqual({ refused: "expired" });
    });

    test("two handles racing for one code: exactly one gets the user (another process sees the use at once)", async () => {
      const twin = await h.twin();
      const hash = bytes(32);
      await store.createLinkCode(bob.id, hash, 1_000, 601_000);
      const results = await Promise.all([store.consumeLinkCode(hash, 2_000), twin.consumeLinkCode(hash, 2_000)]);
      expect(results.filter((r) => "userId" in r)).toEqual([{ userId: bob.id, username: "bob" }]);
      expect(results.filter((r) => "refused" in r)).toEqual([{ refused: "used" }]);
    });

    test("a deleted user's code is unknown, and no code is made for an unknown user", async () => {
      const hash = bytes(32);
      await store.createLinkCode(bob.id, hash, 1_000, 601_000);
      await store.deleteUser("bob");
      expect(await store.consumeLinkCode(hash, 2_000)).toEqual({ refused: "unknown" });
      await expect(store.createLinkCode(999_999, bytes(32), 1_000, 601_000)).rejects.toThrow();
    });
  });

  describe("usage and deletion (M25, M27)", () => {
    test("usageOf() sums the ciphertext of a user's images; deleteImage() removes one row for every handle, once", async () => {
      expect(await store.usageOf(alice.id)).toEqual({ bytes: 0, images: 0 });
      const a = await store.insertImage(newImage(alice, "a.png", { cipherSize: 1_100 }));
      await store.insertImage(newImage(alice, "b.png", { cipherSize: 2_200 }));
      await store.insertImage(newImage(bob, "c.png", { cipherSize: 5_000 }));
      expect(await store.usageOf(alice.id)).toEqual({ bytes: 3_300, images: 2 });
      expect(await store.deleteImage(a.id)).toBe(true);
      expect(await store.deleteImage(a.id)).toBe(false);
      const twin = await h.twin();
      expect(await twin.findImage(a.id)).toBeNull();
      expect(await twin.usageOf(alice.id)).toEqual({ bytes: 2_200, images: 1 });
      expect((await twin.listImages({ after: 0, limit: 10 })).map((i) => i.name)).toEqual(["b.png", "c.png"]);
      expect((await store.allImageIds()).has(a.id)).toBe(false);
    });

    test("a deleted image's seq is never reused (ST1)", async () => {
      const a = await store.insertImage(newImage(alice, "a.png"));
      await store.deleteImage(a.id);
      const b = await store.insertImage(newImage(alice, "a.png"));
      expect(b.seq).toBeGreaterThan(a.seq);
    });
  });
}
