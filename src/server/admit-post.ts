/** POST_IMAGE's admission against the post rate and the storage quota (PROTOCOL.md M25, M26): refused before UPLOAD_READY. */
import { ProtocolError } from "../protocol/index.ts";
import type { ServerContext } from "./context.ts";
import type { Identity } from "./identify.ts";

/**
 * Reserves `bytes` (the upload's ciphertext) for the user, or refuses with
 * RATE_LIMITED (retryAfter) or QUOTA_EXCEEDED. The reservation is taken before
 * the store is asked, and the uploads under way are read in the same step, so
 * any number of concurrent posts cannot pass the quota together (M25): each
 * sees the others' reservations. Returns the release, to call exactly once
 * when the upload ends (committed or not).
 */
export async function admitPost(ctx: Pick<ServerContext, "store" | "postLimits">, identity: Identity, bytes: number): Promise<() => void> {
  const limits = ctx.postLimits;
  const rate = limits.checkRate(identity.username, bytes);
  if (!rate.ok) {
    const what = rate.reason === "posts"
      ? `at most ${limits.postsPerMinute} posts a minute`
      : `at most ${formatBytes(limits.postBytesPerMinute)} of uploads a minute`;
    throw new ProtocolError("RATE_LIMITED", `this server takes ${what} per user; try again in ${rate.retryAfter} s`, rate.retryAfter);
  }
  const othersInFlight = limits.inFlightOf(identity.username);
  limits.accept(identity.username, bytes);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    limits.release(identity.username, bytes);
  };
  if (limits.quotaBytes === 0) return release;
  let used: number;
  try {
    used = (await ctx.store.usageOf(identity.userId)).bytes;
  } catch (error) {
    release();
    throw error;
  }
  if (used + othersInFlight + bytes > limits.quotaBytes) {
    release();
    const under = othersInFlight > 0 ? ` (${formatBytes(othersInFlight)} of it in uploads under way)` : "";
    throw new ProtocolError(
      "QUOTA_EXCEEDED",
      `storage quota exceeded: you use ${formatBytes(used + othersInFlight)}${under} of your ${formatBytes(limits.quotaBytes)} quota and this image needs ${formatBytes(bytes)}; delete images with 'sis rm NAME' to make room`,
    );
  }
  return release;
}

/** Exact bytes, and a readable size beside them from 1 KiB: "1536 B" → "1.5 KiB (1536 B)". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]} (${n} B)`;
}
