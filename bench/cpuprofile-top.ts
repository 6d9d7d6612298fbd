/**
 * The top of a `bun --cpu-prof` profile by sample count, per image: self and inclusive, and with
 * CALLERS=REGEX the call paths (DEPTH frames) into the functions matching it. Counts, not the
 * profile's time deltas: JSC samples only a busy thread, so a sample's delta also holds idle time.
 *   bun bench/cpuprofile-top.ts FILE.cpuprofile [IMAGES=60] [TOP=40]
 *   CALLERS='parse.ts:28' DEPTH=4 bun bench/cpuprofile-top.ts FILE.cpuprofile 60
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export {};

const [file, imagesArg, topArg] = process.argv.slice(2);
if (!file) throw new Error("usage: bun bench/cpuprofile-top.ts FILE.cpuprofile [IMAGES] [TOP]");
const images = Number(imagesArg ?? 60);
const top = Number(topArg ?? 40);
const profile = JSON.parse(await Bun.file(file).text()) as { nodes: Node[]; samples: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (id: number) => {
  const f = byId.get(id)!.callFrame;
  return `${f.functionName || "(anon)"} ${f.url.replace(/.*\/(src|node_modules|cli)\//, "$1/")}:${f.lineNumber + 1}`;
};
const stackOf = (id: number) => {
  const ids: number[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) ids.push(cur);
  return ids; // innermost first
};
const perImage = (n: number) => (n / images).toFixed(2).padStart(6);
const print = (title: string, counts: Map<string, number>, n: number) => {
  console.log(`-- ${title}`);
  for (const [k, c] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${perImage(c)} ms/image  ${k}`);
};
console.log(`${file}: ${profile.samples.length} samples, ${perImage(profile.samples.length)} ms/image at 1 ms`);
const callers = process.env.CALLERS;
if (callers) {
  const re = new RegExp(callers);
  const depth = Number(process.env.DEPTH ?? 4);
  const paths = new Map<string, number>();
  for (const s of profile.samples) {
    const keys = stackOf(s).map(key);
    const outer = keys.findLastIndex((k) => re.test(k));
    if (outer < 0) continue;
    const path = keys.slice(outer, outer + depth + 1).reverse().join(" > ");
    paths.set(path, (paths.get(path) ?? 0) + 1);
  }
  print(`call paths into /${callers}/`, paths, top);
} else {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const s of profile.samples) {
    const keys = stackOf(s).map(key);
    self.set(keys[0]!, (self.get(keys[0]!) ?? 0) + 1);
    for (const k of new Set(keys)) total.set(k, (total.get(k) ?? 0) + 1);
  }
  print("self", self, top);
  print("inclusive", total, top + 20);
}
