/**
 * Deletions across a cluster of three nodes (PROTOCOL.md M27, M29, M13; docs/SCALING.md): the owner's
 * `sis rm` via node A, `sis admin rm --database` and `sis admin delete --images --database` (other
 * processes) each reach a `sis watch` on every node as its IMAGE_DELETED line, and the image is then
 * absent from LIST on every node.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sis } from "../support/cli.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { makeImages, post, registerAt, startWatchers, stopWatchers, untilAllSaved, type Watcher } from "../support/cluster-clients.ts";

let c: Cluster;
/** One home per node, registered at that node's own address: its clients talk to that node only. */
const homes: string[] = [];
let alice: string;
let ws: Watcher[] = [];
beforeAll(async () => {
  c = await startCluster();
  const at = (i: number) => `127.0.0.1:${c.nodes[i]!.port}`;
  alice = await registerAt(c, "alice", at(0));
  for (const i of [0, 1, 2]) homes.push(await registerAt(c, `watcher${i + 1}`, at(i)));
  // watcher1 on node A (the one that handles alice's rm), watcher2 on B, watcher3 on C.
  ws = await startWatchers(c, homes, "deletion");
});
afterAll(async () => {
  await stopWatchers(ws);
  await c?.[Symbol.asyncDispose]();
});

/** The OWNER/NAMEs that `sis list` via each node's home shows. */
async function listedOnEveryNode(): Promise<string[][]> {
  return Promise.all(homes.map(async (home) => {
    const r = await sis(["list", "--json", "--home", home]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    return (JSON.parse(r.stdout) as { owner: string; name: string }[]).map((i) => `${i.owner}/${i.name}`).sort();
  }));
}

/** Every watcher (one per node) prints `deleted on the server: OWNER/NAME (#seq)` and keeps running. */
async function everyWatcherTold(what: string): Promise<void> {
  const line = new RegExp(` deleted on the server: ${what.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(#\\d+\\); a copy saved here is kept$`);
  await Promise.all(ws.map((x) => x.w.waitFor(line, 30_000)));
  for (const x of ws) expect({ watcher: x.label, running: x.w.proc.exitCode === null }).toEqual({ watcher: x.label, running: true });
}

test("alice's sis rm via node A: the watchers on A, B and C each print the IMAGE_DELETED line; no node lists the image", async () => {
  const images = await makeImages(c, "alice", 3, 20_000);
  for (const image of images) expect((await post(alice, image)).code).toBe(0);
  const names = images.map((i) => `alice/${i.name}`);
  await untilAllSaved(ws, names);
  expect(await listedOnEveryNode()).toEqual(Array(3).fill(names.slice().sort()));

  const r = await sis(["rm", images[0]!.name, "--home", alice]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  await everyWatcherTold(names[0]!);
  expect(await listedOnEveryNode()).toEqual(Array(3).fill(names.slice(1).sort()));
});

test("sis admin rm --database (another process): every node's watcher is told; no node lists the image", async () => {
  const r = await c.admin(["rm", "alice/alice-1.png"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  await everyWatcherTold("alice/alice-1.png");
  expect(await listedOnEveryNode()).toEqual(Array(3).fill(["alice/alice-2.png"]));
});

test("sis admin delete USER --images --database: each of the user's images is announced on every node", async () => {
  const mallory = await registerAt(c, "mallory", `127.0.0.1:${c.nodes[2]!.port}`);
  const images = await makeImages(c, "mallory", 2, 20_000);
  for (const image of images) expect((await post(mallory, image)).code).toBe(0);
  await untilAllSaved(ws, images.map((i) => `mallory/${i.name}`));

  const r = await c.admin(["delete", "mallory", "--images"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  for (const image of images) await everyWatcherTold(`mallory/${image.name}`);
  expect(await listedOnEveryNode()).toEqual(Array(3).fill(["alice/alice-2.png"]));
  // Exactly one line per deletion at every watcher: nothing announced twice (the deleting node included).
  for (const x of ws) expect({ watcher: x.label, lines: x.w.lines.filter((l) => l.includes(" deleted on the server: ")).length }).toEqual({ watcher: x.label, lines: 4 });
});
