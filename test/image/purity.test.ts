/** src/image stays pure: it imports only its own files and node:zlib (PNG's CRC-32), and does no file, network or Bun I/O. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "../../src/image");
const ALLOWED = new Set(["node:zlib"]);
const files = () => readdirSync(DIR).filter((f) => f.endsWith(".ts"));

test("src/image imports only its own files and node:zlib: no fs, net, Bun or other project code", () => {
  expect(files().length).toBeGreaterThan(5);
  for (const file of files()) {
    const source = readFileSync(join(DIR, file), "utf8");
    const specifiers = [...source.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']|require\s*\(\s*["']([^"']+)["']/g)].map(
      (m) => m[1] ?? m[2] ?? m[3] ?? "",
    );
    for (const spec of specifiers) {
      const ok = (spec.startsWith("./") && !spec.includes("..")) || ALLOWED.has(spec);
      expect({ file, spec, ok }).toEqual({ file, spec, ok: true });
    }
    expect({ file, io: source.match(/\bBun\.\w+|\bprocess\.\w+|\bfetch\(|\bDeno\./)?.[0] ?? null }).toEqual({ file, io: null });
  }
});

test("every src/image file starts with a one-line module comment and stays small", () => {
  for (const file of files()) {
    const source = readFileSync(join(DIR, file), "utf8");
    expect({ file, comment: source.startsWith("/**") && source.split("\n")[0]!.endsWith("*/") }).toEqual({ file, comment: true });
    expect(source.split("\n").length).toBeLessThan(300);
  }
});
