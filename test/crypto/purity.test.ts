/** src/crypto stays pure (docs/IMPLEMENTATION.md I1): it imports nothing of the project but the shared src/encoding, and does no file or network I/O. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "../../src/crypto");
/** The one shared module: pure byte, DER and serial helpers that import nothing of ours either. */
const SHARED = /^\.\.\/encoding\/[a-z-]+\.ts$/;
const ALLOWED = new Set(["node:crypto", "pkijs", "asn1js", "@peculiar/x509", "reflect-metadata"]);

test("src/crypto imports only its own files, src/encoding, node:crypto and the ASN.1 libraries: no fs, net, or other project code", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts"));
  expect(files.length).toBeGreaterThan(5);
  for (const file of files) {
    const source = readFileSync(join(DIR, file), "utf8");
    const specifiers = [...source.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']/g)].map((m) => m[1] ?? m[2] ?? "");
    for (const spec of specifiers) {
      const ok = (spec.startsWith("./") && !spec.includes("..")) || SHARED.test(spec) || ALLOWED.has(spec);
      expect({ file, spec, ok }).toEqual({ file, spec, ok: true });
    }
    expect(source).not.toMatch(/\bBun\.(file|write|spawn|connect|listen|serve)\b|\bfetch\(/);
  }
});

test("src/encoding imports nothing: not of ours, not node:, not a library", () => {
  const dir = join(import.meta.dir, "../../src/encoding");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const source = readFileSync(join(dir, file), "utf8");
    const specifiers = [...source.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']/g)].map((m) => m[1] ?? m[2] ?? "");
    expect({ file, specifiers }).toEqual({ file, specifiers: [] });
  }
});

test("every src/crypto file starts with a one-line module comment and stays small", () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts"))) {
    const source = readFileSync(join(DIR, file), "utf8");
    expect(source.startsWith("/**")).toBe(true);
    expect(source.split("\n").length).toBeLessThan(200);
  }
});
