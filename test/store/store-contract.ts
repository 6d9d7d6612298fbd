/** The Store contract (ports.ts): one suite every backend must pass, made of the user, cert and image parts. */
import { afterEach, beforeEach, describe } from "bun:test";
import type { Store, UserRecord } from "../../src/server/ports.ts";
import { certStoreContract } from "./cert-store-contract.ts";
import { imageStoreContract } from "./image-store-contract.ts";
import { membershipStoreContract } from "./membership-store-contract.ts";
import { userStoreContract } from "./user-store-contract.ts";
import { deviceStoreContract } from "./device-store-contract.ts";
import { crlStoreContract } from "./crl-store-contract.ts";
import { deletionLogContract } from "./deletion-log-contract.ts";

/** Every call may be asynchronous: a backend over the network opens, clones and drops its handles so. */
export interface StoreHarness {
  store: Store;
  /** A second, independent handle on the same data: another process such as `sis admin revoke`. */
  twin(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** Filled afresh before every test: a new store with two users. */
export interface StoreFixture {
  h: StoreHarness;
  store: Store;
  alice: UserRecord;
  bob: UserRecord;
}

/** The rules of ports.ts (ST1–ST12), as far as a test can see them; each backend runs this once. */
export function runStoreContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`${name} (Store contract)`, () => {
    const f = {} as StoreFixture;
    beforeEach(async () => {
      f.h = await make();
      f.store = f.h.store;
      f.alice = await f.store.createUser("alice", "$argon2id$alice");
      f.bob = await f.store.createUser("bob", "$argon2id$bob");
    });
    afterEach(() => f.h.cleanup());

    userStoreContract(f);
    certStoreContract(f);
    imageStoreContract(f);
    deviceStoreContract(f);
    membershipStoreContract(f);
    crlStoreContract(f);
    deletionLogContract(f);
  });
}
