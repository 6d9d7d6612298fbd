/** Durability across kill -9 (issue #5): acknowledged ⇒ present; present ⇒ complete and verifiable; no orphans. */
import { describe, expect, test } from "bun:test";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { register, sis, startServe, tempDir } from "../support/cli.ts";
import { runCrashRounds } from "../support/crash-round.ts";
import { checkBlobDir } from "../support/durability-checks.ts";
import { seeded, seedFrom } from "../support/seeded.ts";
import { writeTestImage } from "../support/test-images.ts";

const ROUNDS = Number(process.env.SIS_SOAK_ROUNDS ?? 3);
const UPLOADS = 20;
// MAX_UPLOADS_PER_USER is 4: five posters keep twenty uploads in flight at once.
const POSTERS = 5;

describe("sis serve killed with SIGKILL during uploads", () => {
  test(`keeps every acknowledged image, and only complete ones, over ${ROUNDS} rounds of ${UPLOADS} concurrent uploads`, async () => {
    const seed = seedFrom(process.env.SIS_SEED);
    console.log(`crash test seed ${seed} (replay with SIS_SEED=${seed})`);
    using work = tempDir("sis-crash-");
    const report = await runCrashRounds({
      rng: seeded(seed), rounds: ROUNDS, uploads: UPLOADS, posters: POSTERS, minSize: 1024, maxSize: 8 * 1024 * 1024, workDir: work,
      log: (line) => console.log(line),
    });
    expect(report.problems).toEqual([]);
    expect({ rounds: report.rounds, uploads: report.uploads }).toEqual({ rounds: ROUNDS, uploads: ROUNDS * UPLOADS });
    // Every image listed after a round was acknowledged or committed just before the kill, never anything else.
    expect(report.listed).toBe(report.acknowledged + report.committedUnacknowledged);
  }, 600_000);
});

describe("sis post when the server dies mid-upload", () => {
  test("exits 1 with a clear error, and the restarted server keeps nothing of the upload", async () => {
    using work = tempDir("sis-crash-post-");
    const dataDir = join(work, "data");
    let server = await startServe(dataDir);
    try {
      const home = join(work, "alice");
      const reg = await register(server, "alice", home);
      expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: "" });
      const image = await writeTestImage(work, "big.png", 48 * 1024 * 1024, seeded(5));
      // Before the fix in Connection.finish() this post waited for a drain that never came, forever.
      const post = sis(["post", "--home", home, "--quiet", "--keep-metadata", image.path], { timeoutMs: 60_000 });
      const tmp = join(dataDir, "blobs", "tmp");
      const deadline = Date.now() + 60_000;
      while ((await readdir(tmp)).length === 0) {
        if (Date.now() > deadline) throw new Error("the upload never reached blobs/tmp");
        await Bun.sleep(2);
      }
      await server.stop("SIGKILL");
      const r = await post;
      expect(r).toEqual({ code: 1, stdout: "", stderr: "sis: cannot post: the server closed the connection\n" });
      server = await startServe(dataDir, ["--port", String(server.port)]);
      expect(server.output()).toMatch(/removed unacknowledged upload files count=1\b/);
      const listing = await sis(["list", "--json", "--home", home]);
      expect(listing).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
      expect(await checkBlobDir(dataDir, [])).toEqual([]);
    } finally {
      await server.stop("SIGTERM");
    }
    expect(server.proc.exitCode).toBe(0);
  }, 180_000);
});

describe("the durability checks", () => {
  test("checkBlobDir() reports an orphan blob, a listed image without its blob and a file left in tmp", async () => {
    using work = tempDir("sis-crash-check-");
    const blobs = join(work, "blobs");
    await mkdir(join(blobs, "tmp"), { recursive: true });
    const kept = "a".repeat(32);
    const orphan = "b".repeat(32);
    const lost = "c".repeat(32);
    await writeFile(join(blobs, kept), "x");
    await writeFile(join(blobs, orphan), "x");
    await writeFile(join(blobs, "tmp", `${kept}.0123456789abcdef`), "x");
    expect(await checkBlobDir(work, [kept, lost])).toEqual([
      `blobs/${orphan} is an orphan: no listed image has that id`,
      `image ${lost} is listed but blobs/${lost} is missing`,
      `blobs/tmp/${kept}.0123456789abcdef was left behind`,
    ]);
  });
});
