/** Ad-hoc figures for docs/SCALING.md: insertImage on SQLite and PostgreSQL, and the cross-node NEW_IMAGE delay (run: bun bench/postgres-store.ts). */
import { join } from "node:path";
import { PostgresNotifier } from "../src/store/postgres-notifier.ts";
import { PostgresStore } from "../src/store/postgres-store.ts";
import { SqliteStore } from "../src/store/sqlite-store.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { newImage, tempDir } from "../test/store/fixtures.ts";

const N = 200;
const ms = (x: number) => `${x.toFixed(2)} ms`;
function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${ms(s[Math.floor(s.length / 2)]!)}, p95 ${ms(s[Math.floor(s.length * 0.95)]!)}`;
}

const pg = await startPostgres();
try {
  const url = await pg.newDatabase();
  const a = await PostgresStore.open(url);
  const b = await PostgresStore.open(url);
  const alice = await a.createUser("alice", "h");
  const onB = await PostgresNotifier.start({ url, store: b, startAfter: await b.highestSeq() });
  const inserts: number[] = [];
  const crossNode: number[] = [];
  for (let i = 0; i < N; i++) {
    const heard = new Promise<void>((resolve) => {
      const off = onB.subscribe(() => {
        off();
        resolve();
      });
    });
    const t0 = performance.now();
    await a.insertImage(newImage(alice, `serial${i}`));
    const t1 = performance.now();
    await heard;
    inserts.push(t1 - t0);
    crossNode.push(performance.now() - t1);
  }
  console.log(`PostgreSQL insertImage, one at a time: ${summary(inserts)}`);
  console.log(`NEW_IMAGE on node B after node A's insertImage resolved: ${summary(crossNode)}`);
  const t = performance.now();
  await Promise.all(Array.from({ length: 2 * N }, (_, i) => a.insertImage(newImage(alice, `together${i}`))));
  console.log(`PostgreSQL, ${2 * N} inserts issued together on 10 connections: ${((2 * N) / ((performance.now() - t) / 1000)).toFixed(0)} per second`);
  await onB.close();
  await a.close();
  await b.close();

  using dir = tempDir();
  const s = SqliteStore.open(join(dir.path, "bench.db"));
  const bob = await s.createUser("bob", "h");
  const lite: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await s.insertImage(newImage(bob, `serial${i}`));
    lite.push(performance.now() - t0);
  }
  console.log(`SQLite insertImage, one at a time: ${summary(lite)}`);
  await s.close();
} finally {
  await pg.stop();
}
