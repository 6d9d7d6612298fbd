/** The compiled `sis admin … --database postgres://…` against a running PostgreSQL-backed server: invite, users, disable ending a watch, rm; backup refused. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { initCluster, registerInvited, sis, startServe, startWatch, tempDir } from "../support/cli.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { SAMPLE } from "../support/share.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

test("sis admin on PostgreSQL: an invitation from --database registers, --database disable ends the user's running watch with exit 3 (M10, ST3)", async () => {
  using root = tempDir("sis-admin-pg-");
  const url = await pg.newDatabase();
  const data = join(root, "data");
  await initCluster(data);
  const server = await startServe(data, ["--database", url], { invitations: true });
  try {
    // The data directory has keys but no SQLite file: without --database, admin says where to look.
    const lost = await sis(["admin", "users", "--data", data]);
    expect({ code: lost.code, stderr: lost.stderr }).toEqual({ code: 2, stderr: expect.stringContaining("pass the server's --data DIR (or its --database URL)") });

    const minted = await sis(["admin", "invite", "--data", data, "--database", url, "--user", "carol"]);
    expect(minted.code).toBe(0);
    expect(minted.stderr).toMatch(/^invitation [0-9a-f]+ for carol, one use, until .*; the user runs: sis register --invite -\n$/);
    expect(minted.stdout).toMatch(/^sis1:127\.0\.0\.1:\d+:[0-9a-f]{64}:[A-Za-z0-9_-]{43}\n$/);
    const reg = await registerInvited(minted.stdout.trim(), "carol", join(root, "carol"));
    expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: "" });

    // SIS_DATABASE stands in for --database.
    const listed = await sis(["admin", "users", "--data", data, "--json"], { env: { SIS_DATABASE: url } });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { user: string }[]).map((u) => u.user)).toEqual(["carol"]);

    const posted = await sis(["post", "--home", join(root, "carol"), "--name", "mine.png", SAMPLE.png]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const removed = await sis(["admin", "rm", "carol/mine.png", "--data", data, "--database", url]);
    expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: "" });
    expect(removed.stdout).toMatch(/^deleted carol\/mine\.png \(#1, \d+ bytes stored\) from the server\n$/);

    await using w = startWatch(join(root, "carol"), join(root, "out"));
    await w.waitFor(/ connected to .* as carol; catching up after #\d+$/);
    const disabled = await sis(["admin", "disable", "carol", "--data", data, "--database", url]);
    expect({ code: disabled.code, stderr: disabled.stderr, stdout: disabled.stdout }).toEqual({ code: 0, stderr: "", stdout: "disabled carol; their open connections end within seconds\n" });
    const code = await Promise.race([w.proc.exited, Bun.sleep(30_000).then(() => "still running")]);
    expect({ code, lines: w.lines }).toMatchObject({ code: 3 });
    expect(w.lines.join("\n")).toMatch(/^sis: cannot watch: your account has been disabled.*\(ACCOUNT_DISABLED\)$/m);
  } finally {
    await server.stop();
  }
});

test("sis admin backup on PostgreSQL is refused and names pg_dump; a --database holding a password is refused unechoed", async () => {
  using root = tempDir("sis-admin-pg-");
  const r = await sis(["admin", "backup", join(root, "backup"), "--data", join(root, "data"), "--database", "postgres://sis@127.0.0.1:1/sis"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("sis admin backup copies the SQLite database of --data and cannot back up PostgreSQL; back it up with pg_dump");
  expect(existsSync(join(root, "backup"))).toBe(false);

  const p = await sis(["admin", "users", "--data", join(root, "data"), "--database", "postgres://sis:hunter2-secret@127.0.0.1:1/sis"]);
  expect(p.code).toBe(2);
  expect(p.stderr).toContain("use --database: the URL holds a password; remove it and set PGPASSWORD");
  expect(p.stdout + p.stderr).not.toContain("hunter2-secret");
});
