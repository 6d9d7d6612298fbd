/** The composition roots are at the top (issue 11 §1): only src/app imports src/store, and the cli reaches servers and stores only through src/app. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "../..");

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

/** Every import specifier of `file`, resolved to a path relative to the repository. */
function imports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  return [...source.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']/g)]
    .map((m) => m[1] ?? m[2] ?? "")
    .filter((spec) => spec.startsWith("."))
    .map((spec) => relative(ROOT, join(file, "..", spec)));
}

test("nothing outside src/app and src/store imports src/store (the concrete stores)", () => {
  const offenders: string[] = [];
  for (const dir of ["src", "cli"]) {
    for (const file of sources(join(ROOT, dir))) {
      const at = relative(ROOT, file);
      if (at.startsWith("src/app/") || at.startsWith("src/store/")) continue;
      for (const target of imports(file)) if (target.startsWith("src/store/")) offenders.push(`${at} -> ${target}`);
    }
  }
  expect(offenders).toEqual([]);
});

test("src/app is imported only by cli (and tests): no layer below reaches back up", () => {
  const offenders: string[] = [];
  for (const file of sources(join(ROOT, "src"))) {
    const at = relative(ROOT, file);
    if (at.startsWith("src/app/")) continue;
    for (const target of imports(file)) if (target.startsWith("src/app/")) offenders.push(`${at} -> ${target}`);
  }
  expect(offenders).toEqual([]);
});

test("the cli starts servers and opens stores only through src/app", () => {
  const offenders: string[] = [];
  for (const file of sources(join(ROOT, "cli"))) {
    for (const target of imports(file)) {
      if (target === "src/server/tls-server.ts" || target === "src/server/data-dir.ts" || target.startsWith("src/store/")) offenders.push(`${relative(ROOT, file)} -> ${target}`);
    }
  }
  expect(offenders).toEqual([]);
});
