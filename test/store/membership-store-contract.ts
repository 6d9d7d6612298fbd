/** The MembershipStore part of the Store contract (M3, M5, M10–M14); run through runStoreContract(). */
import { beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type Store, StoreConflictError, type UserRecord } from "../../src/server/ports.ts";
import { bytes, newCert, newImage } from "./fixtures.ts";
import type { StoreFixture } from "./store-contract.ts";

const hashOf = (secret: Uint8Array) => new Uint8Array(createHash("sha256").update(secret).digest());
const HOUR = 3_600_000;

export function membershipStoreContract(f: StoreFixture): void {
  let store: Store;
  let alice: UserRecord;
  beforeEach(() => {
    ({ store, alice } = f);
  });

  async function invitation(username: string | null = null, expiresAt = Date.now() + HOUR) {
    const secret = bytes(32);
    const record = await store.createInvitation({ id: Buffer.from(bytes(8)).toString("hex"), secretHash: hashOf(secret), username, expiresAt });
    return { secret, hash: hashOf(secret), record };
  }

  describe("invitations (M5)", () => {
    test("redeemInvitation() creates the user and uses the invitation up in one step; the second time is INVITE_USED and creates nothing", async () => {
      const inv = await invitation();
      expect(await store.listPendingInvitations(Date.now())).toHaveLength(1);
      const first = await store.redeemInvitation(inv.hash, "carol", "$argon2id$carol", Date.now());
      expect("user" in first && first.user.username).toBe("carol");
      expect(await store.findUser("carol")).not.toBeNull();
      expect(await store.listPendingInvitations(Date.now())).toHaveLength(0);
      expect(await store.redeemInvitation(inv.hash, "dave", "$argon2id$dave", Date.now())).toEqual({ refused: "INVITE_USED" });
      expect(await store.findUser("dave")).toBeNull();
    });

    test("unknown, revoked, expired and wrong-name invitations are refused with their codes and create nothing", async () => {
      expect(await store.redeemInvitation(hashOf(bytes(32)), "erin", "h", Date.now())).toEqual({ refused: "INVITE_UNKNOWN" });
      const revoked = await invitation();
      expect(await store.revokeInvitation(revoked.record.id, Date.now())).toBe(true);
      expect(await store.revokeInvitation(revoked.record.id, Date.now())).toBe(false);
      expect(await store.redeemInvitation(revoked.hash, "erin", "h", Date.now())).toEqual({ refused: "INVITE_UNKNOWN" });
      const old = await invitation(null, Date.now() + 1000);
      expect(await store.redeemInvitation(old.hash, "erin", "h", Date.now() + 1000)).toEqual({ refused: "INVITE_EXPIRED" });
      const named = await invitation("frank");
      expect(await store.redeemInvitation(named.hash, "erin", "h", Date.now())).toEqual({ refused: "INVITE_WRONG_USER" });
      expect(await store.findUser("erin")).toBeNull();
      expect("user" in (await store.redeemInvitation(named.hash, "frank", "h", Date.now()))).toBe(true);
    });

    test("no name asked for (null): an invitation made for a name registers that name; one for any name is NO_USERNAME and stays unused (M4)", async () => {
      const named = await invitation("gail");
      const got = await store.redeemInvitation(named.hash, null, "$argon2id$gail", Date.now());
      expect("user" in got && got.user.username).toBe("gail");
      expect(await store.findUser("gail")).not.toBeNull();
      expect(await store.redeemInvitation(named.hash, null, "h", Date.now())).toEqual({ refused: "INVITE_USED" });
      const any = await invitation();
      expect(await store.redeemInvitation(any.hash, null, "h", Date.now())).toEqual({ refused: "NO_USERNAME" });
      expect((await store.listPendingInvitations(Date.now())).map((i) => i.id)).toEqual([any.record.id]);
      expect("user" in (await store.redeemInvitation(any.hash, "gwen", "h", Date.now()))).toBe(true);
    });

    test("a taken name rejects with StoreConflictError and leaves the invitation unused", async () => {
      const inv = await invitation();
      await expect(store.redeemInvitation(inv.hash, "alice", "h", Date.now())).rejects.toThrow(StoreConflictError);
      expect((await store.listPendingInvitations(Date.now())).map((i) => i.id)).toEqual([inv.record.id]);
    });

    test("two handles racing to redeem one invitation: exactly one creates its user, the other is INVITE_USED (M5)", async () => {
      const inv = await invitation();
      const twin = await f.h.twin();
      const results = await Promise.all([
        store.redeemInvitation(inv.hash, "hana", "$argon2id$hana", Date.now()),
        twin.redeemInvitation(inv.hash, "ivan", "$argon2id$ivan", Date.now()),
      ]);
      const winners = results.flatMap((r) => ("user" in r ? [r.user.username] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => "refused" in r)).toEqual([{ refused: "INVITE_USED" }]);
      const loser = winners[0] === "hana" ? "ivan" : "hana";
      expect(await store.findUser(loser)).toBeNull();
      expect(await twin.findUser(winners[0]!)).not.toBeNull();
    });

    test("only the hash is kept: a record holds the secret's SHA-256, and another handle lists it at once (ST7)", async () => {
      const inv = await invitation("gina");
      expect(inv.record.secretHash).toEqual(inv.hash);
      const twin = await f.h.twin();
      try {
        expect((await twin.listPendingInvitations(Date.now())).map((i) => [i.id, i.username])).toEqual([[inv.record.id, "gina"]]);
      } finally {
        await twin.close();
      }
    });
  });

  describe("accounts (M10–M14)", () => {
    test("setUserDisabled() marks the user and every certificate record, bumps the revocation version, and enabling undoes it", async () => {
      await store.addCert(newCert(alice.id, "0a01"));
      const v0 = await store.revocationVersion();
      expect(await store.setUserDisabled("alice", true, Date.now())).toBe(true);
      expect(await store.setUserDisabled("alice", true, Date.now())).toBe(false);
      expect(await store.revocationVersion()).toBeGreaterThan(v0);
      expect((await store.findUser("alice"))!.disabledAt).toBeGreaterThan(0);
      expect((await store.findCert("0a01"))!.userDisabled).toBe(true);
      expect((await store.findCert("0a01"))!.revokedAt).toBeNull();
      expect(await store.setUserDisabled("alice", false, Date.now())).toBe(true);
      expect((await store.findCert("0a01"))!.userDisabled).toBe(false);
      expect(await store.setUserDisabled("nobody", true, Date.now())).toBe(false);
    });

    test("touchUser() is coarse; userSummaries() counts certificates, images and bytes", async () => {
      await store.addCert(newCert(alice.id, "0b01", bytes(700)));
      await store.insertImage(newImage(alice, "a.png", { cipherSize: 500 }));
      await store.insertImage(newImage(alice, "b.png", { cipherSize: 700 }));
      await store.touchUser(alice.id, 1_000_000, 60_000);
      await store.touchUser(alice.id, 1_030_000, 60_000);
      const now = 1_750_000_000_000;
      let a = (await store.userSummaries(now)).find((u) => u.username === "alice")!;
      expect(a).toMatchObject({ lastSeenAt: 1_000_000, certs: 1, validCerts: 1, images: 2, bytes: 1200, disabledAt: null });
      await store.touchUser(alice.id, 1_070_000, 60_000);
      a = (await store.userSummaries(now)).find((u) => u.username === "alice")!;
      expect(a.lastSeenAt).toBe(1_070_000);
      expect((await store.userSummaries(now)).map((u) => u.username)).toEqual(["alice", "bob"]);
    });

    test("setPasswordHash() replaces the hash", async () => {
      expect(await store.setPasswordHash(alice.id, "$argon2id$new")).toBe(true);
      expect((await store.findUser("alice"))!.passwordHash).toBe("$argon2id$new");
    });

    test("deleteAccount() with images returns their ids and removes the rows; without, the images stay; the name stays reserved", async () => {
      const img = await store.insertImage(newImage(alice, "a.png"));
      const kept = await store.insertImage(newImage(f.bob, "b.png"));
      expect(await store.deleteAccount("alice", true, Date.now())).toEqual([img.id]);
      expect(await store.findImage(img.id)).toBeNull();
      expect(await store.findImage(kept.id)).not.toBeNull();
      await expect(store.createUser("alice", "x")).rejects.toThrow(StoreConflictError);
      expect(await store.deleteAccount("alice", true, Date.now())).toBeNull();
      expect(await store.deleteAccount("bob", false, Date.now())).toEqual([]);
      expect(await store.findImage(kept.id)).not.toBeNull();
    });

    test("server info is a shared text setting", async () => {
      expect(await store.getServerInfo("advertised-address")).toBeNull();
      await store.setServerInfo("advertised-address", "127.0.0.1:1233");
      await store.setServerInfo("advertised-address", "[::1]:1234");
      expect(await store.getServerInfo("advertised-address")).toBe("[::1]:1234");
    });
  });
}
