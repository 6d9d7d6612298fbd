/** The outside judge of the page cache: util-linux's fincore (Debian: util-linux-extra, installed by scripts/test-deps.sh). */

/** Pages of `path` resident in the page cache, as fincore counts them. */
export function residentPages(path: string): number {
  const r = Bun.spawnSync(["fincore", "--raw", "--noheadings", "--output", "PAGES", path]);
  if (r.exitCode !== 0) throw new Error(`fincore failed (Debian: apt-get install util-linux-extra): ${r.stderr.toString()}`);
  return Number(r.stdout.toString().trim());
}
