/** The CrlStore part of the Store contract (ports.ts ST9); run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import type { Store, StoredCrl } from "../../src/server/ports.ts";
import { bytes } from "./fixtures.ts";
import type { StoreFixture, StoreHarness } from "./store-contract.ts";

function crl(number: number, revocationVersion = 0, der = bytes(300)): StoredCrl {
  return { number, revocationVersion, signedAt: 1_700_000_000_000 + number, der };
}

export function crlStoreContract(f: StoreFixture): void {
  let h: StoreHarness;
  let store: Store;
  beforeEach(() => {
    ({ h, store } = f);
  });

  describe("the shared CRL (ST9)", () => {
    test("storedCrl() is null at first; replaceCrl() stores what sign returns, exact bytes, read back by another handle", async () => {
      expect(await store.storedCrl()).toBeNull();
      const first = crl(5, 2);
      let seen: StoredCrl | null | undefined;
      const stored = await store.replaceCrl(async (s) => ((seen = s), first));
      expect(seen).toBeNull();
      expect(stored).toEqual(first);
      expect(stored.der).toBeInstanceOf(Uint8Array);
      const twin = await h.twin();
      try {
        expect(await twin.storedCrl()).toEqual(first);
        // sign gets the stored one; null keeps it.
        expect(await twin.replaceCrl(async (s) => ((seen = s), null))).toEqual(first);
        expect(seen).toEqual(first);
      } finally {
        await twin.close();
      }
    });

    test("a number not above the stored one is refused and changes nothing: the number never goes down", async () => {
      await store.replaceCrl(async () => crl(10, 1));
      await expect(store.replaceCrl(async () => crl(10, 2))).rejects.toThrow(/never goes down/);
      await expect(store.replaceCrl(async () => crl(3, 2))).rejects.toThrow(/never goes down/);
      expect((await store.storedCrl())!.number).toBe(10);
      expect((await store.replaceCrl(async () => crl(11, 2))).number).toBe(11);
      expect(await store.storedCrl()).toMatchObject({ number: 11, revocationVersion: 2 });
    });

    test("replaceCrl() with nothing stored and nothing signed rejects; a failing sign changes nothing and the next call runs", async () => {
      await expect(store.replaceCrl(async () => null)).rejects.toThrow();
      await expect(store.replaceCrl(async () => { throw new Error("signing failed"); })).rejects.toThrow("signing failed");
      expect(await store.storedCrl()).toBeNull();
      expect((await store.replaceCrl(async () => crl(1))).number).toBe(1);
    });

    test("two handles replacing at once take turns: the second sign sees the first one's CRL", async () => {
      const twin = await h.twin();
      try {
        let inside = 0;
        let most = 0;
        const signs: (number | null)[] = [];
        const sign = async (s: StoredCrl | null) => {
          inside++;
          most = Math.max(most, inside);
          signs.push(s?.number ?? null);
          await Bun.sleep(50);
          inside--;
          return crl((s?.number ?? 0) + 1);
        };
        const [a, b] = await Promise.all([store.replaceCrl(sign), twin.replaceCrl(sign)]);
        expect(most).toBe(1);
        expect(signs.sort()).toEqual([1, null].sort());
        expect([a.number, b.number].sort()).toEqual([1, 2]);
        expect((await store.storedCrl())!.number).toBe(2);
      } finally {
        await twin.close();
      }
    });
  });
}
