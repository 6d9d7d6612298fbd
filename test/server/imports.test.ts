/** src/server's own import graph (issue 11 part 3): no circle, and handlers know the Peer, never the Session. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "../../src/server");

/** file -> the src/server files it imports (type-only imports too: a circle of types is still a circle to read). */
function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts"))) {
    const source = readFileSync(join(DIR, file), "utf8");
    const specs = [...source.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']/g)].map((m) => m[1] ?? m[2] ?? "");
    edges.set(file, specs.filter((s) => s.startsWith("./")).map((s) => s.slice(2)));
  }
  return edges;
}

/** Every circle, each as the path that closes it. */
function circles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      found.push([...path.slice(path.indexOf(file)), file]);
      return;
    }
    state.set(file, "open");
    path.push(file);
    for (const next of edges.get(file) ?? []) visit(next);
    path.pop();
    state.set(file, "done");
  };
  for (const file of edges.keys()) visit(file);
  return found;
}

test("src/server has no import circle", () => {
  const edges = graph();
  expect(edges.size).toBeGreaterThan(10);
  for (const [file, targets] of edges) for (const t of targets) expect({ file, import: t, exists: edges.has(t) }).toEqual({ file, import: t, exists: true });
  expect(circles(edges)).toEqual([]);
});

test("handlers and what they use import neither the Session nor the TLS server; the session is reached through peer.ts", () => {
  const edges = graph();
  const reach = (from: string, seen = new Set<string>()): Set<string> => {
    for (const next of edges.get(from) ?? []) if (!seen.has(next)) reach(next, seen.add(next));
    return seen;
  };
  for (const file of ["dispatch.ts", ...[...edges.keys()].filter((f) => f.startsWith("handle-"))]) {
    const reached = [...reach(file)];
    expect({ file, reachesSession: reached.includes("session.ts") || reached.includes("tls-server.ts") }).toEqual({ file, reachesSession: false });
  }
  // One home for record -> wire: no handler imports another handler.
  for (const [file, targets] of edges) {
    if (!file.startsWith("handle-")) continue;
    expect({ file, handlers: targets.filter((t) => t.startsWith("handle-")) }).toEqual({ file, handlers: [] });
  }
});
