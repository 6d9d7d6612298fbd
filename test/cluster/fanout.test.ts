/**
 * Three compiled `sis serve` nodes on one PostgreSQL and one s3rver behind HAProxy
 * (docs/SCALING.md): 20 `sis watch` processes spread over the nodes get every acknowledged
 * image exactly once, verified and byte-identical, also when posts race on different nodes (ST1).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { acknowledged, expectExactlyOnce, type Image, limited, makeImages, post, registerAt, startWatchers, stopWatchers, untilAllSaved, type Watcher } from "../support/cluster-clients.ts";

let c: Cluster;
let watchers: Watcher[] = [];
/** Four watching users, five watchers each (one folder each): 20 connections for leastconn to spread. */
const WATCHING_USERS = ["w1", "w2", "w3", "w4"];
/** Posts per node in the race. */
const RACE_POSTS = 4;
/** Posts of the first test (2 KB to about 50 KB). */
const FAN_POSTS = 6;

beforeAll(async () => {
  c = await startCluster();
  const homes = await limited(2, WATCHING_USERS.map((u) => () => registerAt(c, u)));
  watchers = await startWatchers(c, homes.flatMap((h) => [h, h, h, h, h]), "fan");
});
afterAll(async () => {
  await stopWatchers(watchers);
  await c?.[Symbol.asyncDispose]();
});

test("20 watchers spread over three nodes through HAProxy each save every acknowledged post exactly once, verified and byte-identical", async () => {
  // Each node holds some of the watchers' connections (HAProxy leastconn).
  const perNode = await Promise.all(c.nodes.map((n) => c.metric(n.index, "sis_authenticated_clients")));
  expect(perNode.every((v) => v >= 1)).toBe(true);
  expect(perNode.reduce((a, b) => a + b, 0)).toBe(20);

  const alice = await registerAt(c, "alice");
  const images = await makeImages(c, "fan", FAN_POSTS, (i) => 2000 + i * 9000);
  const results = await limited(3, images.map((im) => () => post(alice, im)));
  for (const [i, r] of results.entries()) expect({ image: images[i]!.name, ok: acknowledged(r, "alice", images[i]!), stderr: r.stderr }).toEqual({ image: images[i]!.name, ok: true, stderr: "" });

  const expected = new Map(images.map((im) => [`alice/${im.name}`, im.path]));
  await untilAllSaved(watchers, [...expected.keys()]);
  await expectExactlyOnce(watchers, expected);
});

test("the commit-order race end to end: posters pinned to each of the three nodes post at once; every watcher gets every image, none skipped (ST1)", async () => {
  // Each poster registered at a node's own address: its posts land on that node, so inserts race across nodes.
  const posters = await limited(3, c.nodes.map((n) => () => registerAt(c, `p${n.index + 1}`, n.server.address)));
  const batches: { home: string; owner: string; images: Image[] }[] = [];
  for (const [i, home] of posters.entries()) batches.push({ home, owner: `p${i + 1}`, images: await makeImages(c, `race${i + 1}`, RACE_POSTS, 1500) });
  // Two posts at a time per node, all three nodes at once.
  const jobs = batches.flatMap((b) => b.images.map((im) => async () => ({ b, im, r: await post(b.home, im) })));
  const interleaved = jobs.map((_, k) => jobs[(k % 3) * RACE_POSTS + Math.floor(k / 3)]!);
  const done = await limited(6, interleaved);
  const expected = new Map<string, string>();
  for (const { b, im, r } of done) {
    expect({ image: im.name, ok: acknowledged(r, b.owner, im), stderr: r.stderr }).toEqual({ image: im.name, ok: true, stderr: "" });
    expected.set(`${b.owner}/${im.name}`, im.path);
  }
  // The previous test's images are in the folders too.
  for (let i = 0; i < FAN_POSTS; i++) expected.set(`alice/fan-${i}.png`, `${c.root}/images/fan/fan-${i}.png`);
  await untilAllSaved(watchers, [...expected.keys()]);
  await expectExactlyOnce(watchers, expected);
});
