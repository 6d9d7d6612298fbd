/** The layering of docs/ARCHITECTURE.md as a test: which layer may import which, no cycles, composition only in src/app. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/**
 * Layer → the layers of ours it may import (besides itself). The order is the
 * order of docs/ARCHITECTURE.md: every arrow points down this list.
 */
const MAY_IMPORT: Record<string, string[]> = {
  "src/encoding": [],
  "src/protocol": ["src/encoding"],
  "src/crypto": ["src/encoding"],
  "src/image": ["src/encoding"],
  "src/pki": ["src/encoding", "src/crypto", "src/protocol"],
  "src/runtime": ["src/encoding"],
  "src/server": ["src/encoding", "src/protocol", "src/crypto", "src/pki", "src/runtime"],
  "src/store": ["src/encoding", "src/protocol", "src/pki", "src/runtime", "src/server"],
  "src/http": ["src/encoding", "src/protocol"],
  "src/client": ["src/encoding", "src/protocol", "src/crypto", "src/pki", "src/image", "src/runtime"],
  "src/gallery": ["src/encoding", "src/protocol", "src/crypto", "src/pki", "src/image", "src/client"],
  "src/app": ["src/encoding", "src/protocol", "src/crypto", "src/pki", "src/image", "src/runtime", "src/server", "src/store", "src/http", "src/client", "src/gallery"],
  cli: ["src/encoding", "src/protocol", "src/crypto", "src/pki", "src/image", "src/client", "src/gallery", "src/app"],
};

/** What src/store may take from src/server: the interfaces the server declares, nothing that runs. */
const STORE_MAY_TAKE_FROM_SERVER = /^src\/server\/ports(\.ts|\/[a-z-]+\.ts)$/;

interface Edge { from: string; to: string }

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function layerOf(file: string): string | null {
  const rel = relative(ROOT, file);
  if (rel.startsWith("cli/")) return "cli";
  const m = /^src\/[a-z-]+/.exec(rel);
  return m ? m[0] : null;
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|(?:^|\n)\s*import\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;

function edges(): Edge[] {
  const files = [...walk(join(ROOT, "src")), ...walk(join(ROOT, "cli"))];
  const out: Edge[] = [];
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? "";
      if (!spec.startsWith(".")) continue;
      out.push({ from: relative(ROOT, file), to: relative(ROOT, resolve(dirname(file), spec)) });
    }
  }
  return out;
}

const ALL = edges();

describe("layering (docs/ARCHITECTURE.md)", () => {
  test("the scan sees the code base (a broken scan would pass everything)", () => {
    expect(ALL.length).toBeGreaterThan(200);
    expect(new Set(ALL.map((e) => layerOf(join(ROOT, e.from)))).size).toBeGreaterThanOrEqual(10);
  });

  test("every import points down: a layer imports only the layers listed for it", () => {
    const bad: string[] = [];
    for (const e of ALL) {
      const from = layerOf(join(ROOT, e.from));
      const to = layerOf(join(ROOT, e.to));
      if (!from || !to || from === to) continue;
      const allowed = MAY_IMPORT[from];
      if (!allowed) bad.push(`${e.from}: layer ${from} has no rule`);
      else if (!allowed.includes(to)) bad.push(`${e.from} → ${e.to}`);
      else if (from === "src/store" && to === "src/server" && !STORE_MAY_TAKE_FROM_SERVER.test(e.to)) bad.push(`${e.from} → ${e.to} (store takes only the ports)`);
    }
    expect(bad).toEqual([]);
  });

  test("only the composition root (src/app) and the stores themselves import concrete stores or bun:sqlite", () => {
    const bad: string[] = [];
    for (const e of ALL) {
      const from = layerOf(join(ROOT, e.from));
      if (layerOf(join(ROOT, e.to)) === "src/store" && from !== "src/app" && from !== "src/store") bad.push(`${e.from} → ${e.to}`);
    }
    for (const file of [...walk(join(ROOT, "src")), ...walk(join(ROOT, "cli"))]) {
      const layer = layerOf(file);
      if (layer === "src/store") continue;
      if (/from\s+["']bun:sqlite["']/.test(readFileSync(file, "utf8"))) bad.push(`${relative(ROOT, file)} imports bun:sqlite`);
    }
    expect(bad).toEqual([]);
  });

  test("no import cycle between files", () => {
    const graph = new Map<string, string[]>();
    for (const e of ALL) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const stack: string[] = [];
    const visit = (node: string): void => {
      state.set(node, 1);
      stack.push(node);
      for (const next of graph.get(node) ?? []) {
        const s = state.get(next);
        if (s === 1) cycles.push([...stack.slice(stack.indexOf(next)), next].join(" → "));
        else if (s === undefined) visit(next);
      }
      stack.pop();
      state.set(node, 2);
    };
    for (const node of graph.keys()) if (!state.has(node)) visit(node);
    expect(cycles).toEqual([]);
  });

  test("handlers reach the session only through src/server/peer.ts, and no handler imports another", () => {
    const graph = new Map<string, string[]>();
    for (const e of ALL) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const reach = (from: string, seen = new Set<string>()): Set<string> => {
      for (const next of graph.get(from) ?? []) if (!seen.has(next)) reach(next, seen.add(next));
      return seen;
    };
    const handlers = [...graph.keys()].filter((f) => /^src\/server\/(handle-[a-z0-9-]+|dispatch)\.ts$/.test(f));
    expect(handlers.length).toBeGreaterThanOrEqual(4);
    for (const file of handlers) {
      const reached = [...reach(file)];
      expect({ file, reachesSession: reached.includes("src/server/session.ts") || reached.includes("src/server/tls-server.ts") }).toEqual({ file, reachesSession: false });
      if (file.includes("handle-")) expect({ file, handlers: (graph.get(file) ?? []).filter((t) => t.includes("/handle-")) }).toEqual({ file, handlers: [] });
    }
  });

  test("the rule table catches a planted violation (the check can fail)", () => {
    const from = "src/protocol", to = "src/server";
    expect(MAY_IMPORT[from]?.includes(to)).toBe(false);
    expect(MAY_IMPORT["src/crypto"]?.includes("src/pki")).toBe(false);
    expect(MAY_IMPORT["src/pki"]?.includes("src/server")).toBe(false);
  });
});
