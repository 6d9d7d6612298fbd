/** Clients of a test cluster (test/support/cluster.ts): users, images, `sis post` and many `sis watch` processes, and the checks on what every watcher saved. */
import { expect } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Result, sis, startWatch, type WatchProcess } from "./cli.ts";
import type { Cluster } from "./cluster.ts";
import { sameFiles, writeBigPng } from "./share.ts";

/** Registers USER at `server` (HAProxy by default; a node's own address pins the user's posts to it), 2048-bit keys. */
export async function registerAt(c: Cluster, user: string, server = c.address): Promise<string> {
  const home = join(c.root, "homes", user);
  const r = await sis(["register", "--server", server, "--user", user, "--home", home, "--password-stdin", "--ca-fingerprint", c.fingerprint, "--key-bits", "2048"], { stdin: `${user}-password-1\n` });
  if (r.code !== 0) throw new Error(`register ${user} at ${server} failed (${r.code}): ${r.stderr}`);
  return home;
}

/** Runs `jobs` at most `width` at a time, in order of start; the results in input order. */
export async function limited<T>(width: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

export interface Image {
  name: string;
  path: string;
}

/** `count` valid PNGs of `size` bytes (random pixels, nothing for the stripper to remove) named `prefix-N.png`. */
export async function makeImages(c: Cluster, prefix: string, count: number, size: number | ((i: number) => number)): Promise<Image[]> {
  const dir = join(c.root, "images", prefix);
  mkdirSync(dir, { recursive: true });
  const images: Image[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}.png`;
    const path = join(dir, name);
    await writeBigPng(path, typeof size === "number" ? size : size(i));
    images.push({ name, path });
  }
  return images;
}

/** `sis post` of one image; acknowledged means exit 0 with its "posted" line. */
export function post(home: string, image: Image): Promise<Result> {
  return sis(["post", "--home", home, "--name", image.name, image.path], { timeoutMs: 120_000 });
}

export function acknowledged(r: Result, owner: string, image: Image): boolean {
  return r.code === 0 && r.stdout.includes(`posted ${owner}/${image.name} id `);
}

export interface Watcher {
  w: WatchProcess;
  out: string;
  label: string;
}

/** Starts one `sis watch` per entry of `homes` (through the address in each home), each into a folder of its own, and waits until all are connected. */
export async function startWatchers(c: Cluster, homes: string[], tag: string): Promise<Watcher[]> {
  const watchers = homes.map((home, i) => {
    const out = join(c.root, "out", `${tag}-${i}`);
    return { w: startWatch(home, out), out, label: `${tag}-${i}` };
  });
  await Promise.all(watchers.map((x) => x.w.waitFor(/ connected to .* as \S+; catching up after #\d+$/)));
  return watchers;
}

export async function stopWatchers(watchers: Watcher[]): Promise<void> {
  await Promise.all(watchers.map((x) => x.w.stop()));
}

const SAVED = /^\S+ (saved|already saved) (\S+)\/(\S+) \(#\d+\): signature by (\S+) \(serial [0-9a-f]+\) verified -> /;

/** How many times each OWNER/NAME was saved (or found already saved) by a watcher, from its lines. */
export function savedCounts(x: Watcher): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of x.w.lines) {
    const m = SAVED.exec(l);
    if (m) counts.set(`${m[2]}/${m[3]}`, (counts.get(`${m[2]}/${m[3]}`) ?? 0) + 1);
  }
  return counts;
}

/** Waits until every watcher has saved every OWNER/NAME in `wanted`; on time-out says who lacks what. */
export async function untilAllSaved(watchers: Watcher[], wanted: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lacking = watchers.map((x) => ({ x, missing: wanted.filter((k) => !savedCounts(x).has(k)) })).filter((l) => l.missing.length > 0);
    if (lacking.length === 0) return;
    const dead = lacking.find((l) => l.x.w.proc.exitCode !== null);
    if (dead || Date.now() > deadline) {
      const l = dead ?? lacking[0]!;
      throw new Error(`${lacking.length} watcher(s) lack images; ${l.x.label}${dead ? ` exited ${dead.x.w.proc.exitCode}` : ""} lacks ${l.missing.slice(0, 5).join(", ")} (${l.missing.length}); it printed:\n${l.x.w.lines.slice(-30).join("\n")}`);
    }
    await Bun.sleep(100); // the watchers' lines are the event; polled with a deadline
  }
}

/** The visible images (not hidden partials, not signatures) under `dir`, as OWNER/NAME. */
async function visibleFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const owner of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!owner.isDirectory()) continue;
    // NAME.p7s beside each image is its signature (ENVELOPE.md), checked with the image's own line.
    for (const f of await readdir(join(dir, owner.name))) if (!f.startsWith(".") && !f.endsWith(".p7s")) out.push(`${owner.name}/${f}`);
  }
  return out.sort();
}

/**
 * Every watcher saved each image of `expected` (OWNER/NAME → original file) exactly once, its
 * folder holds exactly what it saved, and every saved file is byte-identical to its original.
 * `maybe` are images whose post was not acknowledged: each may be there (once, identical) or not.
 */
export async function expectExactlyOnce(watchers: Watcher[], expected: Map<string, string>, maybe = new Map<string, string>()): Promise<void> {
  for (const x of watchers) {
    const counts = savedCounts(x);
    const twice = [...counts].filter(([, n]) => n !== 1);
    expect({ watcher: x.label, savedMoreThanOnce: twice }).toEqual({ watcher: x.label, savedMoreThanOnce: [] });
    const files = await visibleFiles(x.out);
    const known = [...expected.keys()].filter((k) => !counts.has(k));
    expect({ watcher: x.label, missing: known }).toEqual({ watcher: x.label, missing: [] });
    const unexplained = files.filter((f) => !expected.has(f) && !maybe.has(f));
    expect({ watcher: x.label, unexplained }).toEqual({ watcher: x.label, unexplained: [] });
    expect({ watcher: x.label, files }).toEqual({ watcher: x.label, files: [...counts.keys()].sort() });
    for (const f of files) {
      const original = expected.get(f) ?? maybe.get(f)!;
      expect({ watcher: x.label, file: f, identical: await sameFiles(original, join(x.out, f)), signature: existsSync(join(x.out, `${f}.p7s`)) }).toEqual({ watcher: x.label, file: f, identical: true, signature: true });
    }
  }
}
