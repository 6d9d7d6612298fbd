/** The UserStore part of the Store contract; run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import { type Store, StoreConflictError, type UserRecord } from "../../src/server/ports.ts";
import { newCert, newImage } from "./fixtures.ts";
import type { StoreFixture } from "./store-contract.ts";

export function userStoreContract(f: StoreFixture): void {
  let store: Store;
  let alice: UserRecord;
  let bob: UserRecord;
  beforeEach(() => {
    ({ store, alice, bob } = f);
  });

  describe("users", () => {
    test("createUser() returns a record that findUser() finds", async () => {
      expect(alice.username).toBe("alice");
      expect(alice.passwordHash).toBe("$argon2id$alice");
      expect(alice.createdAt).toBeGreaterThan(0);
      expect(await store.findUser("alice")).toEqual(alice);
      expect(alice.id).not.toBe(bob.id);
    });

    test("findUser() returns null for an unknown name", async () => {
      expect(await store.findUser("mallory")).toBeNull();
      expect(await store.findUser("ALICE")).toBeNull();
    });

    test("createUser() throws StoreConflictError for a taken username", async () => {
      await expect(store.createUser("alice", "x")).rejects.toThrow(StoreConflictError);
    });

    test("deleteUser() hides the user and returns false for an unknown one", async () => {
      expect(await store.deleteUser("alice")).toBe(true);
      expect(await store.findUser("alice")).toBeNull();
      expect(await store.deleteUser("alice")).toBe(false);
      expect(await store.deleteUser("mallory")).toBe(false);
      expect(await store.findUser("bob")).not.toBeNull();
    });

    test("deleteUser() revokes the user's certificates so they no longer authenticate", async () => {
      await store.addCert(newCert(alice.id, "0a01"));
      await store.addCert(newCert(bob.id, "0b01"));
      const version = await store.revocationVersion();
      await store.deleteUser("alice");
      expect((await store.findCert("0a01"))?.revokedAt).not.toBeNull();
      expect((await store.findCert("0b01"))?.revokedAt).toBeNull();
      expect((await store.listRevoked()).map((r) => r.serial)).toEqual(["0a01"]);
      expect(await store.revocationVersion()).not.toBe(version);
    });

    test("deleteUser() removes the user's images and keeps the name reserved", async () => {
      const img = await store.insertImage(newImage(alice, "cat.png"));
      const kept = await store.insertImage(newImage(bob, "dog.png"));
      await store.deleteUser("alice");
      expect(await store.findImage(img.id)).toBeNull();
      expect(await store.allImageIds()).toEqual(new Set([kept.id]));
      await expect(store.createUser("alice", "x")).rejects.toThrow(StoreConflictError);
    });
  });
}
