/**
 * kill -9 of one of three nodes with uploads and downloads in flight (docs/SCALING.md): nothing
 * acknowledged is lost, nothing half-stored becomes visible, its watchers reconnect through
 * HAProxy and catch up exactly once, and its restart does not sweep another node's young blob (S3-3).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { S3Client, SQL } from "bun";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { acknowledged, expectExactlyOnce, type Image, limited, makeImages, post, registerAt, startWatchers, stopWatchers, untilAllSaved, type Watcher } from "../support/cluster-clients.ts";
import { S3RVER_KEY } from "../support/s3.ts";
import { until } from "../support/until.ts";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

let c: Cluster;
let watchers: Watcher[] = [];
beforeAll(async () => {
  c = await startCluster();
  const homes = await limited(2, ["v1", "v2"].map((u) => () => registerAt(c, u)));
  watchers = await startWatchers(c, [...homes, ...homes, ...homes], "crash");
});
afterAll(async () => {
  await stopWatchers(watchers);
  await c?.[Symbol.asyncDispose]();
});

/** The victim: node 2. */
const VICTIM = 1;

test("kill -9 of a node mid-upload and mid-download: every acknowledged image reaches every watcher exactly once; none half-stored; the restart keeps another node's young blob", async () => {
  const victimWatchers = await c.metric(VICTIM, "sis_authenticated_clients");
  expect(victimWatchers).toBeGreaterThanOrEqual(1);

  // pinned posts to the victim (10 MiB: multipart uploads on S3), the others through HAProxy throughout.
  const pinned = await registerAt(c, "pinned", c.nodes[VICTIM]!.server.address);
  const roaming = await registerAt(c, "roaming");
  const big = await makeImages(c, "big", 3, (i) => (i === 0 ? 10 : 24) * 1024 * 1024 + 4096);
  const small = await makeImages(c, "small", 12, (i) => 3000 + i * 1000);

  const outcome = new Map<string, { ok: boolean; path: string }>();
  const record = (owner: string, im: Image) => async () => {
    const r = await post(owner === "pinned" ? pinned : roaming, im);
    outcome.set(`${owner}/${im.name}`, { ok: acknowledged(r, owner, im), path: im.path });
    return r;
  };
  // The first big post acknowledged: the watchers start downloading it; then two more, killed mid-upload.
  const first = await record("pinned", big[0]!)();
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
  const inFlight = Promise.all(big.slice(1).map((im) => record("pinned", im)()));
  const roamingPosts = limited(2, small.slice(0, 6).map((im) => record("roaming", im)));
  // A multipart upload under way in s3rver (only the pinned big posts make one): the victim is mid-upload.
  const uploads = join(c.s3.dir, c.s3.bucket, "._S3rver_uploads");
  await until(() => existsSync(uploads) && readdirSync(uploads).length > 0, "a multipart upload in flight", 60_000);
  await c.kill(VICTIM);
  await inFlight;
  await roamingPosts;
  // With the node down, posts through HAProxy go to the two others.
  const whileDown = small.slice(6);
  await limited(2, whileDown.map((im) => record("roaming", im)));

  // The restart sweeps S3 by age: a blob another node just completed (row not yet committed) stays.
  const s3 = new S3Client({ endpoint: c.s3.endpoint, bucket: c.s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: "S3RVER" });
  const young = `blobs/${"ef".repeat(16)}`;
  await s3.write(young, "another node's upload, its row about to be committed");
  await c.restart(VICTIM);
  expect(await s3.exists(young)).toBe(true);
  await s3.delete(young);

  // Posts after the restart, pinned to the restarted node and through HAProxy.
  const after = await makeImages(c, "after", 4, 5000);
  await record("pinned", after[0]!)();
  await limited(3, after.slice(1).map((im) => record("roaming", im)));

  const acked = new Map([...outcome].filter(([, o]) => o.ok).map(([k, o]) => [k, o.path]));
  const notAcked = new Map([...outcome].filter(([, o]) => !o.ok).map(([k, o]) => [k, o.path]));
  // Posts in flight on the victim may have failed; every post through HAProxy after the kill, and every post after the restart, is acknowledged.
  for (const im of [...whileDown, ...after.slice(1)]) expect({ image: im.name, acked: acked.has(`roaming/${im.name}`) }).toEqual({ image: im.name, acked: true });
  expect(acked.has(`pinned/${after[0]!.name}`)).toBe(true);

  await untilAllSaved(watchers, [...acked.keys()], 90_000);
  const db = new SQL(c.databaseUrl, { max: 1 });
  try {
    const rows = [...(await db`SELECT u.username AS owner_name, i.name, i.id, i.cipher_size::int AS size FROM images i JOIN users u ON u.id = i.owner_id`)] as { owner_name: string; name: string; id: string; size: number }[];
    const listed = rows.map((r) => `${r.owner_name}/${r.name}`).sort();
    // Nothing half-stored: every row's blob is complete in the bucket.
    for (const r of rows) expect({ image: `${r.owner_name}/${r.name}`, size: await s3.size(`blobs/${r.id}`) }).toEqual({ image: `${r.owner_name}/${r.name}`, size: r.size });
    // Every acknowledged image is listed; an unacknowledged one may be (its POSTED lost with the node) or not.
    for (const k of acked.keys()) expect(listed).toContain(k);
    for (const k of listed) expect(acked.has(k) || notAcked.has(k)).toBe(true);
    await untilAllSaved(watchers, listed, 60_000);
    await expectExactlyOnce(watchers, new Map(listed.map((k) => [k, acked.get(k) ?? notAcked.get(k)!])));
  } finally {
    await db.close();
  }
  // The victim's watchers lost their connection and reconnected through HAProxy.
  const reconnected = watchers.filter((x) => x.w.lines.some((l) => / disconnected: /.test(l)));
  expect(reconnected.length).toBeGreaterThanOrEqual(victimWatchers);
  for (const x of reconnected) expect(x.w.lines.filter((l) => / connected to .* catching up after #\d+$/.test(l)).length).toBeGreaterThanOrEqual(2);
});
