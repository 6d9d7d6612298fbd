/**
 * A cluster of three nodes losing its shared services (docs/SCALING.md): the LISTEN doorbell
 * killed again and again (the poll delivers), the object store stopped (posts refused with
 * STORAGE_FAILED, nothing visible, nodes up, recovered once it is back), PostgreSQL restarted
 * (nodes reconnect, nothing acknowledged lost).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { sis } from "../support/cli.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { acknowledged, expectExactlyOnce, type Image, limited, makeImages, post, registerAt, startWatchers, stopWatchers, untilAllSaved, type Watcher } from "../support/cluster-clients.ts";
import { until } from "../support/until.ts";

/** PostgresNotifier's poll (src/store/postgres-notifier.ts pollMs; `sis serve` keeps its 2 s default, it has no option). */
const POLL_MS = 2000;

let c: Cluster;
let watchers: Watcher[] = [];
let poster: string;
/** Every image acknowledged so far in this file (OWNER/NAME → original), which every watcher must end with. */
const expected = new Map<string, string>();

beforeAll(async () => {
  c = await startCluster();
  const homes = await limited(2, ["o1", "o2"].map((u) => () => registerAt(c, u)));
  watchers = await startWatchers(c, [...homes, ...homes, ...homes], "outage");
  poster = await registerAt(c, "poster");
});
afterAll(async () => {
  await stopWatchers(watchers);
  await c?.[Symbol.asyncDispose]();
});

async function postAll(images: Image[], width = 3): Promise<Map<string, boolean>> {
  const results = await limited(width, images.map((im) => async () => [im, await post(poster, im)] as const));
  const out = new Map<string, boolean>();
  for (const [im, r] of results) {
    out.set(im.name, acknowledged(r, "poster", im));
    if (acknowledged(r, "poster", im)) expected.set(`poster/${im.name}`, im.path);
  }
  return out;
}

async function rowCount(): Promise<number> {
  const db = new SQL(c.databaseUrl, { max: 1 });
  try {
    return (await db`SELECT count(*)::int AS n FROM images`)[0].n;
  } finally {
    await db.close();
  }
}

test("the LISTEN connections killed with pg_terminate_backend again and again while posting: every watcher still gets every image, and sis_doorbell_age_milliseconds comes back down", async () => {
  const images = await makeImages(c, "doorbell", 12, 4000);
  let killed = 0;
  let storming = true;
  const storm = (async () => {
    while (storming) {
      killed += await c.terminateListeners();
      await Bun.sleep(150);
    }
  })();
  const acks = await postAll(images, 2);
  await untilAllSaved(watchers, images.map((im) => `poster/${im.name}`), 60_000);
  storming = false;
  await storm;
  expect(killed).toBeGreaterThanOrEqual(3);
  expect([...acks.values()].every(Boolean)).toBe(true);
  await expectExactlyOnce(watchers, expected);
  // The doorbell's age is on every node's /metrics; with the listener back (or the poll alone) it stays within a few polls.
  for (const n of c.nodes) {
    expect(Number.isFinite(await c.metric(n.index, "sis_doorbell_age_milliseconds"))).toBe(true);
    await until(async () => (await c.metric(n.index, "sis_doorbell_age_milliseconds")) < 3 * POLL_MS, `node ${n.index + 1}'s doorbell age below ${3 * POLL_MS} ms`, 30_000);
  }
  // Each node's listener is back (Bun.sql reconnects it).
  await until(async () => [...(await c.pg.admin`SELECT 1 FROM pg_stat_activity WHERE application_name = 'sis-serve-listen'`)].length === 3, "three LISTEN connections again", 30_000);
});

test("the object store stopped: posts fail with STORAGE_FAILED, nothing becomes visible, every node stays up; after s3rver restarts posts work again", async () => {
  const before = await rowCount();
  await c.s3.stop();
  try {
    const refused = await makeImages(c, "nos3", 3, 5000);
    for (const im of refused) {
      const r = await post(poster, im);
      expect({ image: im.name, code: r.code, stderr: r.stderr }).toEqual({ image: im.name, code: 1, stderr: expect.stringContaining("(STORAGE_FAILED)") });
    }
    expect(await rowCount()).toBe(before);
    const listed = await sis(["list", "--home", poster]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain("nos3-");
    for (const n of c.nodes) expect(JSON.parse(new TextDecoder().decode(await c.http(n.index, "/healthz")))).toMatchObject({ ok: true });
    for (const n of c.nodes) expect(n.server.proc.exitCode).toBeNull();
  } finally {
    await c.s3.restart();
  }
  const again = await makeImages(c, "s3back", 3, 5000);
  const acks = await postAll(again);
  expect([...acks.values()].every(Boolean)).toBe(true);
  await untilAllSaved(watchers, [...expected.keys()]);
  await expectExactlyOnce(watchers, expected);
  for (const x of watchers) expect(x.w.lines.some((l) => /nos3-/.test(l))).toBe(false);
});

test("PostgreSQL restarted under posts: nodes reconnect, nothing acknowledged is lost, posts after it reach every watcher", async () => {
  const during = await makeImages(c, "pgrestart", 8, 4000);
  const posting = postAll(during, 2);
  await Bun.sleep(500); // into the posts; which of them the restart hits does not matter
  await c.pg.restart();
  await posting;
  const after = await makeImages(c, "pgback", 4, 4000);
  const acks = await postAll(after);
  expect([...acks.values()].every(Boolean)).toBe(true);
  for (const n of c.nodes) expect(n.server.proc.exitCode).toBeNull();
  await untilAllSaved(watchers, [...expected.keys()], 60_000);
  // What was acknowledged is in the database; an unacknowledged post is kept or not, and then delivered or not, as a whole.
  const db = new SQL(c.databaseUrl, { max: 1 });
  let names: string[];
  try {
    names = [...(await db`SELECT name FROM images`)].map((r: { name: string }) => r.name);
  } finally {
    await db.close();
  }
  for (const k of expected.keys()) expect(names).toContain(k.slice("poster/".length));
  const maybe = new Map(during.filter((im) => !expected.has(`poster/${im.name}`) && names.includes(im.name)).map((im) => [`poster/${im.name}`, im.path]));
  await untilAllSaved(watchers, [...maybe.keys()], 30_000);
  await expectExactlyOnce(watchers, expected, maybe);
});
