/** The compiled `sis serve --database postgres://… --blobs s3://…`: the blobs are objects in the bucket, not files in the data directory; a bad --blobs creates nothing. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { S3Client, SQL } from "bun";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { initCluster, sis, startServe, startWatch, tempDir } from "../support/cli.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { S3RVER_KEY, type S3Server, startS3 } from "../support/s3.ts";
import { firstShare } from "../support/first-share.ts";
import { SAMPLE, sameFiles } from "../support/share.ts";

let pg: PostgresServer;
let s3: S3Server;
beforeAll(async () => {
  pg = await startPostgres();
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.[Symbol.asyncDispose]();
  await pg?.stop();
});

/** s3rver checks the access key id only (docs/SCALING.md); the secret is a placeholder. */
const S3_ENV = { S3_ACCESS_KEY_ID: S3RVER_KEY, S3_SECRET_ACCESS_KEY: "S3RVER" };

/** Every file under `dir`, relative paths. */
function filesUnder(dir: string, base = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(base, e.name)) : [join(base, e.name)]));
}

test("with --blobs s3://…, a watch gets a post, a restarted server still serves it, and the blob is an object in the bucket, not a file in --data (S3-1, S3-3)", async () => {
  using root = tempDir("sis-serve-s3-");
  const url = await pg.newDatabase();
  const blobs = `s3://${s3.bucket}/images/?endpoint=${s3.endpoint}`;
  const data = join(root, "data");
  await initCluster(data);
  let server = await startServe(data, ["--database", url, "--blobs", blobs], { env: S3_ENV });
  try {
    await firstShare(server, root, "s3.png");

    const db = new SQL(url, { max: 1 });
    let id: string;
    try {
      const rows = [...(await db`SELECT id, cipher_size::int AS size FROM images`)] as { id: string; size: number }[];
      expect(rows.length).toBe(1);
      id = rows[0]!.id;
    } finally {
      await db.close();
    }
    const client = new S3Client({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: "S3RVER" });
    const listed = await client.list({ prefix: "images/" });
    expect((listed.contents ?? []).map((c) => c.key)).toEqual([`images/${id}`]);
    // The data directory holds keys and nothing of the image: no blobs folder file, no file named by its id.
    expect(filesUnder(data).filter((f) => f.startsWith("blobs") || f.includes(id))).toEqual([]);

    const port = server.port;
    await server.stop();
    server = await startServe(data, ["--database", url, "--blobs", blobs, "--port", String(port)], { env: S3_ENV });
    // The restart's sweep keeps the object (it has a row, and it is younger than the minimum orphan age anyway).
    expect((await client.list({ prefix: "images/" })).contents?.map((c) => c.key)).toEqual([`images/${id}`]);
    const again = join(root, "again");
    await using w = startWatch(join(root, "bob"), again);
    await w.waitFor(/ saved alice\/s3\.png \(#1\): signature by alice \(serial [0-9a-f]+\) verified -> /);
    expect(await sameFiles(SAMPLE.png, join(again, "alice", "s3.png"))).toBe(true);
  } finally {
    await server.stop();
  }
});

test("an orphan object younger than the minimum orphan age survives a start-up sweep: another node may be about to commit its row (S3-3)", async () => {
  using root = tempDir("sis-serve-s3-");
  const url = await pg.newDatabase();
  const client = new S3Client({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: "S3RVER" });
  const orphan = `young/${"ab".repeat(16)}`;
  await client.write(orphan, "another node's upload, row not yet committed");
  await initCluster(join(root, "data"));
  const server = await startServe(join(root, "data"), ["--database", url, "--blobs", `s3://${s3.bucket}/young/?endpoint=${s3.endpoint}`], { env: S3_ENV });
  try {
    expect(await client.exists(orphan)).toBe(true);
  } finally {
    await server.stop();
  }
});

test("with minOrphanAgeS=0 the start-up sweep does remove an orphan object, and keeps other keys under the prefix (S3-3)", async () => {
  using root = tempDir("sis-serve-s3-");
  const url = await pg.newDatabase();
  const client = new S3Client({ endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: S3RVER_KEY, secretAccessKey: "S3RVER" });
  const orphan = `old/${"cd".repeat(16)}`;
  await client.write(orphan, "a blob whose row never committed");
  await client.write("old/README", "not a blob id: never swept");
  await initCluster(join(root, "data"));
  const server = await startServe(join(root, "data"), ["--database", url, "--blobs", `s3://${s3.bucket}/old/?endpoint=${s3.endpoint}&minOrphanAgeS=0`], { env: S3_ENV });
  try {
    expect(await client.exists(orphan)).toBe(false);
    expect(await client.exists("old/README")).toBe(true);
    expect(server.log()).toMatch(/removed orphan blobs older than the minimum orphan age.*count=1/);
  } finally {
    await server.stop();
  }
});

for (const [what, blobs, message] of [
  ["credentials in it", "s3://AKIA:hunter2-secret@sis-test?endpoint=http://127.0.0.1:1", "sis: cannot use --blobs: it holds credentials; remove them and set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY in the environment instead"],
  ["no bucket", "s3:///?endpoint=http://127.0.0.1:1", "sis: cannot use --blobs: "],
  ["no endpoint", "s3://sis-test", "sis: cannot use --blobs: endpoint= is missing; write s3://BUCKET?endpoint=https://HOST"],
] as const) {
  test(`a --blobs URL with ${what} is refused at start, says why, and creates nothing`, async () => {
    using root = tempDir("sis-serve-s3-");
    const r = await sis(["serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0", "--blobs", blobs], { env: S3_ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(message);
    expect(r.stderr.split("\n").filter(Boolean).length).toBe(1);
    expect(r.stdout + r.stderr).not.toContain("hunter2-secret");
    expect(existsSync(join(root, "data"))).toBe(false);
  });
}

test("an object store that cannot be reached: sis serve says so and exits 1", async () => {
  using root = tempDir("sis-serve-s3-");
  const url = await pg.newDatabase();
  await initCluster(join(root, "data"));
  const r = await sis(["serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0", "--database", url, "--blobs", "s3://sis-test?endpoint=http://127.0.0.1:1"], { env: S3_ENV });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^sis: cannot use --blobs: cannot sweep orphan blobs .*check that the object store is running/);
});

test("--print-config shows blobs", async () => {
  using root = tempDir("sis-serve-s3-");
  const r = await sis(["serve", "--data", join(root, "data"), "--blobs", "s3://sis-test?endpoint=http://127.0.0.1:9000", "--print-config"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('\nblobs = "s3://sis-test?endpoint=http://127.0.0.1:9000"\n');
});
