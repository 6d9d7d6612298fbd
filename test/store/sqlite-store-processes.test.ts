/** SqliteStore shared by two processes, as `sis serve` and `sis admin revoke` share one database file. */
import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/index.ts";
import { newCert, tempDir } from "./fixtures.ts";

const BUN = process.execPath;
const STORE = join(import.meta.dir, "../../src/store/index.ts");

/** A child that revokes a serial; with holdMs it first holds the write lock, says "locked", then commits. */
function childScript(path: string, serial: string, holdMs: number): string {
  return `
    import { Database } from "bun:sqlite";
    import { SqliteStore } from ${JSON.stringify(STORE)};
    const path = ${JSON.stringify(path)};
    if (${holdMs} > 0) {
      const raw = new Database(path);
      raw.exec("BEGIN IMMEDIATE");
      raw.exec("UPDATE meta SET value = value WHERE key = 'revocation_version'");
      console.log("locked");
      Bun.sleepSync(${holdMs});
      raw.exec("COMMIT");
      raw.close();
    }
    const store = SqliteStore.open(path);
    console.log(await store.revokeSerial(${JSON.stringify(serial)}, 99) ? "revoked" : "unchanged");
    await store.close();
  `;
}

test("a revocation by another process is seen by the open store", async () => {
  using dir = tempDir();
  const path = join(dir.path, "sis.db");
  using store = SqliteStore.open(path);
  const alice = await store.createUser("alice", "h");
  await store.addCert(newCert(alice.id, "a1"));
  const before = await store.revocationVersion();

  const child = Bun.spawn([BUN, "-e", childScript(path, "a1", 0)], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ out: out.trim(), err, code }).toEqual({ out: "revoked", err: "", code: 0 });

  expect(await store.revocationVersion()).toBe(before + 1);
  expect((await store.findCert("a1"))?.revokedAt).toBe(99);
});

test("a write waits for another process's lock instead of failing with SQLITE_BUSY", async () => {
  using dir = tempDir();
  const path = join(dir.path, "sis.db");
  using store = SqliteStore.open(path);
  const alice = await store.createUser("alice", "h");
  await store.addCert(newCert(alice.id, "a1"));

  const child = Bun.spawn([BUN, "-e", childScript(path, "ffff", 300)], { stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toStartWith("locked");
  // The child holds the write lock now; busy_timeout lets this block until it commits.
  expect(await store.revokeSerial("a1", 5)).toBe(true);
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
  const code = await child.exited;
  expect(rest.trim()).toBe("unchanged");
  expect(code).toBe(0);
});

test("the WAL file gets the database's owner-only permissions", async () => {
  using dir = tempDir();
  const path = join(dir.path, "sis.db");
  using store = SqliteStore.open(path);
  await store.createUser("alice", "h");
  expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
});
