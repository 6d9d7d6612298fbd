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
}
