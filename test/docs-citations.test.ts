/** The repository stands on its own: every Markdown file a source, test or doc names is in it. */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const SCANNED = ["src", "cli", "test", "docs", "bench", "scripts"];

function* files(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures" || name === "vectors") continue;
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(ts|md)$/.test(name)) yield path;
  }
}

test("every *.md cited in src, cli, test, docs, bench and README exists in the repository", () => {
  const known = new Set<string>(["README.md"]);
  for (const dir of ["docs", "bench"]) for (const f of files(join(ROOT, dir))) if (f.endsWith(".md")) known.add(basename(f)).add(`${dir}/${basename(f)}`);
  const missing: string[] = [];
  for (const file of [join(ROOT, "README.md"), ...SCANNED.flatMap((d) => [...files(join(ROOT, d))])]) {
    for (const [cited] of readFileSync(file, "utf8").matchAll(/[A-Za-z0-9_/-]*[A-Z][A-Za-z0-9_-]*\.md\b/g)) {
      if (!known.has(cited) && !known.has(cited.replace(/^\.\.?\//, ""))) missing.push(`${file.slice(ROOT.length + 1)}: ${cited}`);
    }
  }
  expect(missing).toEqual([]);
});
