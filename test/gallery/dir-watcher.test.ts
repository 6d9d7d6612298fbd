/** DirWatcher: a notice once set up, notices for owner directories made later, and the polling fallback. */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirWatcher } from "../../src/gallery/dir-watcher.ts";

function tempDir(): string & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "sis-dir-watcher-"));
  return Object.assign(dir, { [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) }) as unknown as string & Disposable;
}

/** Subscribes; next() resolves on the first notice given after it was called. */
function notices(watcher: DirWatcher): Disposable & { next(): Promise<void> } {
  let waiters: (() => void)[] = [];
  const unsubscribe = watcher.subscribe(() => {
    const ready = waiters;
    waiters = [];
    for (const done of ready) done();
  });
  return {
    next: () => new Promise<void>((done) => waiters.push(done)),
    [Symbol.dispose]: unsubscribe,
  };
}

test("DirWatcher tells subscribers about a file saved into an owner directory made after it started", async () => {
  using root = tempDir();
  const watcher = new DirWatcher(root);
  {
    using seen = notices(watcher);
    await seen.next(); // set up
    const owner = join(root, "alice");
    let next = seen.next();
    mkdirSync(owner);
    await next; // the new owner directory is watched before this notice
    next = seen.next();
    writeFileSync(join(owner, "cat.png"), "x");
    await next;
  }
  expect(watcher.watching).toBe(false);
});

test("DirWatcher polls a DIR that does not exist yet and notices when images arrive in it", async () => {
  using root = tempDir();
  const dir = join(root, "images");
  const watcher = new DirWatcher(dir);
  {
    using seen = notices(watcher);
    await seen.next(); // the baseline snapshot is taken
    const next = seen.next();
    mkdirSync(join(dir, "alice"), { recursive: true });
    writeFileSync(join(dir, "alice", "cat.png"), "x");
    await next;
  }
  expect(watcher.watching).toBe(false);
});
