/** The durability and delivery checks, each returning problems as sentences: an empty list means the guarantee held. */
import { Database } from "bun:sqlite";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { sha256File } from "./test-images.ts";

export const PARTIAL_FILE = /^\.sis-partial-/;
const BLOB_ID = /^[0-9a-f]{32}$/;

async function list(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** DATA/blobs holds exactly one file per listed image and an empty tmp/ (no orphan, nothing half-written). */
export async function checkBlobDir(dataDir: string, listedIds: Iterable<string>): Promise<string[]> {
  const problems: string[] = [];
  const dir = join(dataDir, "blobs");
  const listed = new Set(listedIds);
  const entries = (await list(dir)) ?? [];
  for (const name of entries) {
    if (name === "tmp") continue;
    if (!BLOB_ID.test(name)) problems.push(`blobs/${name} is not a blob id`);
    else if (!listed.has(name)) problems.push(`blobs/${name} is an orphan: no listed image has that id`);
  }
  const present = new Set(entries);
  for (const id of listed) if (!present.has(id)) problems.push(`image ${id} is listed but blobs/${id} is missing`);
  const tmp = await list(join(dir, "tmp"));
  if (tmp === null) problems.push("blobs/tmp is missing");
  else for (const name of tmp) problems.push(`blobs/tmp/${name} was left behind`);
  return problems;
}

/**
 * PRAGMA integrity_check on the server's database, opened read-only (the WAL
 * is read, not checkpointed); call it only while no server runs, e.g. right
 * after a kill -9, to judge the files exactly as the crash left them.
 */
export function checkDatabase(dataDir: string): string[] {
  const db = new Database(join(dataDir, "sis.db"), { readonly: true });
  try {
    const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    const verdicts = rows.map((r) => r.integrity_check);
    return verdicts.length === 1 && verdicts[0] === "ok" ? [] : verdicts.map((v) => `integrity_check: ${v}`);
  } finally {
    db.close();
  }
}

export interface OutReport {
  problems: string[];
  /** Expected images with no file under OUT. */
  missing: number;
  /** Files under OUT that are not an expected image (a duplicate or a stranger). */
  extra: number;
  /** Files found intact and byte-identical. */
  delivered: number;
}

/**
 * OUT holds exactly the expected images (key "owner/name", value the SHA-256 of
 * the posted bytes), each byte-identical with its .p7s beside it, and nothing
 * else: no partial file, hidden or not.
 */
export async function checkOutDir(outDir: string, expected: ReadonlyMap<string, string>): Promise<OutReport> {
  const report: OutReport = { problems: [], missing: 0, extra: 0, delivered: 0 };
  const found = new Set<string>();
  for (const owner of (await list(outDir)) ?? []) {
    const names = (await list(join(outDir, owner))) ?? [];
    const here = new Set(names);
    for (const name of names) {
      if (PARTIAL_FILE.test(name)) {
        report.problems.push(`${owner}/${name} is a partial file left behind`);
        continue;
      }
      if (name.endsWith(".p7s") && expected.has(`${owner}/${name.slice(0, -4)}`)) continue;
      const key = `${owner}/${name}`;
      const want = expected.get(key);
      if (want === undefined) {
        report.extra++;
        report.problems.push(`${key} was saved but never posted`);
        continue;
      }
      found.add(key);
      if ((await sha256File(join(outDir, key))) !== want) report.problems.push(`${key} differs from the posted file`);
      else report.delivered++;
      if (!here.has(`${name}.p7s`)) report.problems.push(`${key} has no ${name}.p7s beside it`);
    }
  }
  for (const key of expected.keys()) {
    if (found.has(key)) continue;
    report.missing++;
    report.problems.push(`${key} was posted but is not under OUT`);
  }
  return report;
}

/** How many times each "owner/name" appears as "saved" (not "already saved") in a watcher's log. */
export function savedCounts(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const m = /^\S+ saved (\S+) \(#\d+\)/.exec(line);
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}

/** Runs `fn` over `items` with at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
