/** The compiled `sis serve --database postgres://…` on a private PostgreSQL: register, post, watch, restart; a URL with a password refused. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { initCluster, register, sis, startServe, startWatch, tempDir } from "../support/cli.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { firstShare } from "../support/first-share.ts";
import { SAMPLE, sameFiles } from "../support/share.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

test("users, certificates and images live in PostgreSQL: a watch gets a post, and a restarted server still has both (ST2)", async () => {
  using root = tempDir("sis-serve-pg-");
  const url = await pg.newDatabase();
  const data = join(root, "data");
  // Cluster mode: the keys are made once by init-cluster, never by the node (docs/SCALING.md).
  await initCluster(data);
  let server = await startServe(data, ["--database", url]);
  try {
    await firstShare(server, root, "pg.png");

    const db = new SQL(url, { max: 1 });
    try {
      expect((await db`SELECT username FROM users ORDER BY username`).map((r: { username: string }) => r.username)).toEqual(["alice", "bob"]);
      expect((await db`SELECT count(*)::int AS n FROM certificates`)[0].n).toBe(2);
      expect([...(await db`SELECT seq::int AS seq, name FROM images`)]).toEqual([{ seq: 1, name: "pg.png" }]);
    } finally {
      await db.close();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^sis_doorbell_age_milliseconds \d+$/m);

    const port = server.port;
    await server.stop();
    // The same data directory (keys) and the same database: what a restarted or replaced node sees.
    server = await startServe(data, ["--database", url, "--port", String(port)]);
    const again = join(root, "again");
    await using w = startWatch(join(root, "bob"), again);
    const listed = await sis(["list", "--home", join(root, "bob")]);
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
    expect(listed.stdout).toContain("pg.png");
    // A watch into a new folder catches up from the start: the restarted server serves the row and the blob.
    await w.waitFor(/ saved alice\/pg\.png \(#1\): signature by alice \(serial [0-9a-f]+\) verified -> /);
    expect(await sameFiles(SAMPLE.png, join(again, "alice", "pg.png"))).toBe(true);
  } finally {
    await server.stop();
  }
});

test("a --database URL holding a password is refused, and the password is not echoed", async () => {
  using root = tempDir("sis-serve-pg-");
  const r = await sis(["serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0", "--database", "postgres://sis:hunter2-secret@127.0.0.1:1/sis"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("sis: cannot use --database: the URL holds a password; remove it and set PGPASSWORD in the server's environment");
  expect(r.stdout + r.stderr).not.toContain("hunter2-secret");
  expect(existsSync(join(root, "data"))).toBe(false);
});

test("a database that cannot be reached: sis serve says which and what to check, and exits 1", async () => {
  using root = tempDir("sis-serve-pg-");
  await initCluster(join(root, "data"));
  const r = await sis(["serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0", "--database", "postgres://sis@127.0.0.1:1/nowhere"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^sis: cannot open the database 127\.0\.0\.1:1\/nowhere: .+; check --database and that PostgreSQL runs there\n$/);
});
