/** The Store contract (ports.ts): one suite every backend must pass, made of the user, cert and image parts. */
import { afterEach, beforeEach, describe } from "bun:test";
import type { Store, UserRecord } from "../../src/server/ports.ts";
import { certStoreContract } from "./cert-store-contract.ts";
import { imageStoreContract } from "./image-store-contract.ts";
import { userStoreContract } from "./user-store-contract.ts";

export interface StoreHarness {
  store: Store;
  /** A second, independent handle on the same data: another process such as `sis admin revoke`. */
  twin(): Store;
  cleanup(): void;
}

/** Filled afresh before every test: a new store with two users. */
export interface StoreFixture {
  h: StoreHarness;
  store: Store;
  alice: UserRecord;
  bob: UserRecord;
}

export function runStoreContract(name: string, make: () => StoreHarness): void {
  describe(`${name} (Store contract)`, () => {
    const f = {} as StoreFixture;
    beforeEach(() => {
      f.h = make();
      f.store = f.h.store;
      f.alice = f.store.createUser("alice", "$argon2id$alice");
      f.bob = f.store.createUser("bob", "$argon2id$bob");
    });
    afterEach(() => f.h.cleanup());

    userStoreContract(f);
    certStoreContract(f);
    imageStoreContract(f);
  });
}
