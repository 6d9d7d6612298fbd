/** The post rate, the quota with uploads under way (M25, M26) on a real SqliteStore, and link codes (M20). */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ProtocolError } from "../../src/protocol/index.ts";
import { admitPost } from "../../src/server/admit-post.ts";
import { canonicalLinkCode, linkCodeHash, newLinkCode } from "../../src/server/link-code.ts";
import { PostLimiter } from "../../src/server/post-limits.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { newImage, tempDir } from "../store/fixtures.ts";

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error("it was admitted");
}

describe("PostLimiter (M26)", () => {
  test("N posts a minute pass; the next is refused until the oldest leaves the window, with retryAfter in seconds", () => {
    const limiter = new PostLimiter({ quotaBytes: 0, postsPerMinute: 2, postBytesPerMinute: 0 });
    const t = 1_000_000;
    limiter.accept("alice", 10, t);
    limiter.accept("alice", 10, t + 20_000);
    expect(limiter.checkRate("alice", 10, t + 30_000)).toEqual({ ok: false, reason: "posts", retryAfter: 30 });
    expect(limiter.checkRate("bob", 10, t + 30_000)).toEqual({ ok: true });
    expect(limiter.checkRate("alice", 10, t + 60_001)).toEqual({ ok: true });
  });

  test("the byte rate refuses a post that would pass it, says when it fits, and lets one oversized image through an empty window", () => {
    const limiter = new PostLimiter({ quotaBytes: 0, postsPerMinute: 0, postBytesPerMinute: 1_000 });
    const t = 5_000_000;
    expect(limiter.checkRate("alice", 5_000, t)).toEqual({ ok: true });
    limiter.accept("alice", 600, t);
    limiter.accept("alice", 300, t + 10_000);
    expect(limiter.checkRate("alice", 100, t + 10_000)).toEqual({ ok: true });
    // 900 + 500 > 1000: the first post (600) must leave, at t + 60 s.
    expect(limiter.checkRate("alice", 500, t + 15_000)).toEqual({ ok: false, reason: "bytes", retryAfter: 45 });
  });
});

describe("admitPost (M25): uploads under way count against the quota", () => {
  test("many concurrent posts that each fit alone cannot pass the quota together; a release makes room again", async () => {
    using dir = tempDir();
    using store = SqliteStore.open(join(dir.path, "sis.db"));
    const alice = await store.createUser("alice", "$argon2id$x");
    await store.insertImage(newImage(alice, "old.png", { cipherSize: 4_000 }));
    const ctx = { store, postLimits: new PostLimiter({ quotaBytes: 10_000, postsPerMinute: 0, postBytesPerMinute: 0 }) };
    const identity = { userId: alice.id, username: "alice", serial: "01", certDer: new Uint8Array() };
    // Ten posts of 2,000 bytes started at once: 4,000 stored leaves room for three.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => admitPost(ctx, identity, 2_000)));
    const admitted = results.filter((r) => r.status === "fulfilled");
    expect(admitted).toHaveLength(3);
    expect(ctx.postLimits.inFlightOf("alice")).toBe(6_000);
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as ProtocolError);
    expect(new Set(refused.map((e) => e.code))).toEqual(new Set(["QUOTA_EXCEEDED"]));
    expect(refused[0]!.message).toContain("of your 9.8 KiB (10000 B) quota and this image needs 2.0 KiB (2000 B)");
    expect(refused[0]!.message).toContain("in uploads under way");
    const error = await refusal(admitPost(ctx, identity, 2_000));
    expect(error.code).toBe("QUOTA_EXCEEDED");
    // One upload ends (committed or given up): its reservation goes, once however often it is released.
    const release = (admitted[0] as PromiseFulfilledResult<() => void>).value;
    release();
    release();
    expect(ctx.postLimits.inFlightOf("alice")).toBe(4_000);
    const again = await admitPost(ctx, identity, 2_000);
    again();
  });

  test("over the rate: RATE_LIMITED with retryAfter, and nothing reserved", async () => {
    using dir = tempDir();
    using store = SqliteStore.open(join(dir.path, "sis.db"));
    const alice = await store.createUser("alice", "$argon2id$x");
    const ctx = { store, postLimits: new PostLimiter({ quotaBytes: 0, postsPerMinute: 1, postBytesPerMinute: 0 }) };
    const identity = { userId: alice.id, username: "alice", serial: "01", certDer: new Uint8Array() };
    (await admitPost(ctx, identity, 100))();
    const error = await refusal(admitPost(ctx, identity, 100));
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error.retryAfter).toBeLessThanOrEqual(60);
    expect(ctx.postLimits.inFlightOf("alice")).toBe(0);
  });
});

describe("link codes (M20)", () => {
  test("a code is 16 Crockford base32 characters in four groups (80 bits), fresh every time", () => {
    const codes = new Set(Array.from({ length: 200 }, () => newLinkCode()));
    expect(codes.size).toBe(200);
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  });

  test("typing is forgiving (case, spaces, dashes, O for 0, I and L for 1) and the hash is of the canonical form", () => {
    expect(canonicalLinkCode("abcd-efgh-jkmn-pq0o")).toBe("ABCDEFGHJKMNPQ00");
    expect(canonicalLinkCode(" abcd efgh jkmn pq1l ")).toBe("ABCDEFGHJKMNPQ11");
    expect(linkCodeHash(canonicalLinkCode("abcd-efgh-jkmn-pqrs")!)).toEqual(linkCodeHash("ABCDEFGHJKMNPQRS"));
    expect(canonicalLinkCode("ABCD-EFGH-JKMN-PQR")).toBeNull();
    expect(canonicalLinkCode("ABCD-EFGH-JKMN-PQRU")).toBeNull();
    expect(canonicalLinkCode("")).toBeNull();
  });
});
