/** OutputFile: verified images land only under OUT, never replace a different file, and leave no debris. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createImageDigest } from "../../src/crypto/index.ts";
import { SaveConflictError, SaveError } from "../../src/client/errors.ts";
import { OutputFile, PARTIAL_PREFIX } from "../../src/client/output-file.ts";
import { tempDir } from "../support/cli.ts";
import { residentPages } from "../support/fincore.ts";
import { listFiles, SAMPLE } from "../support/share.ts";

const image = new Uint8Array(readFileSync(SAMPLE.png));
const signature = new TextEncoder().encode("a detached signature stands here");

/** A short stand-in for a file's bytes, so a failure prints a line, not thousands. */
const fingerprint = (bytes: Uint8Array) => `${bytes.length} bytes, sha256 ${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
const fileFingerprint = (path: string) => fingerprint(readFileSync(path));

function digestOf(bytes: Uint8Array): Uint8Array {
  const d = createImageDigest();
  d.update(bytes);
  return d.digest();
}

/** Writes `bytes` in two pieces and commits; returns what commit() returned. */
async function save(out: string, owner: string, name: string, bytes = image) {
  const file = await OutputFile.create(out, owner, name);
  try {
    await file.write(bytes.subarray(0, 100));
    await file.write(bytes.subarray(100));
    return await file.commit(signature, digestOf(bytes));
  } catch (error) {
    await file.discard();
    throw error;
  }
}

describe("OutputFile", () => {
  test("a saved image is on disk and not left in the page cache (fincore), byte for byte what was written", async () => {
    using out = tempDir("sis-out-");
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let at = 0; at < big.length; at += 65536) crypto.getRandomValues(big.subarray(at, at + 65536));
    const { path } = await save(out, "alice", "big.png", big);
    expect(residentPages(path)).toBe(0);
    expect(fileFingerprint(path)).toBe(fingerprint(big));
  });

  test("a name whose NAME.p7s the file system refuses (ENAMETOOLONG) is a SaveError saying so, and nothing is left", async () => {
    using out = tempDir("sis-out-");
    // 253 bytes fit a file name (255 at most); NAME.p7s, 257 bytes, does not.
    const name = `${"n".repeat(249)}.png`;
    const failure = await save(out, "alice", name).then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(SaveError);
    expect((failure as Error).message).toBe(`cannot save ${join(out, "alice", name)}: the file name is too long for this file system; nothing was saved (the owner must post it under a shorter name)`);
    expect(await listFiles(out)).toEqual([]);
  });

  test("commit() places OUT/owner/name and its .p7s and leaves no temporary file", async () => {
    using out = tempDir("sis-out-");
    const result = await save(out, "alice", "sample.png");
    expect(result).toEqual({ path: join(out, "alice", "sample.png"), written: true });
    expect(fileFingerprint(join(out, "alice", "sample.png"))).toBe(fingerprint(image));
    expect(fileFingerprint(join(out, "alice", "sample.png.p7s"))).toBe(fingerprint(signature));
    expect(await listFiles(out)).toEqual(["alice/sample.png", "alice/sample.png.p7s"]);
  });

  test("an image of several write buffers, given in odd pieces, is saved byte for byte (writes gathered, synced ahead)", async () => {
    using out = tempDir("sis-out-");
    const big = new Uint8Array(9 * 1024 * 1024 + 12_345);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >>> 12) & 0xff;
    const file = await OutputFile.create(out, "alice", "big.png");
    const piece = new Uint8Array(65_537);
    for (let at = 0; at < big.length; at += piece.length) {
      // One reused piece: write() must copy what it is given.
      const n = Math.min(piece.length, big.length - at);
      piece.set(big.subarray(at, at + n));
      await file.write(piece.subarray(0, n));
      piece.fill(0xee);
    }
    await file.commit(signature, digestOf(big));
    expect(fileFingerprint(join(out, "alice", "big.png"))).toBe(fingerprint(big));
    expect(await listFiles(out)).toEqual(["alice/big.png", "alice/big.png.p7s"]);
  });

  test("nothing is visible under the final name before commit()", async () => {
    using out = tempDir("sis-out-");
    const file = await OutputFile.create(out, "alice", "sample.png");
    await file.write(image);
    const files = await listFiles(out);
    expect(files).toHaveLength(1);
    expect(files[0]!.startsWith(`alice/${PARTIAL_PREFIX}`)).toBe(true);
    await file.discard();
  });

  test("discard() leaves nothing behind, before and after writing", async () => {
    using out = tempDir("sis-out-");
    const empty = await OutputFile.create(out, "alice", "a.png");
    await empty.discard();
    const partial = await OutputFile.create(out, "alice", "b.png");
    await partial.write(image.subarray(0, 1000));
    await partial.discard();
    await partial.discard(); // twice is harmless
    expect(await listFiles(out)).toEqual([]);
  });

  test("an identical re-save returns written=false and changes nothing", async () => {
    using out = tempDir("sis-out-");
    expect((await save(out, "alice", "sample.png")).written).toBe(true);
    const again = await save(out, "alice", "sample.png");
    expect(again).toEqual({ path: join(out, "alice", "sample.png"), written: false });
    expect(await listFiles(out)).toEqual(["alice/sample.png", "alice/sample.png.p7s"]);
    expect(fileFingerprint(join(out, "alice", "sample.png"))).toBe(fingerprint(image));
  });

  test("a different file already at the target is never overwritten", async () => {
    using out = tempDir("sis-out-");
    mkdirSync(join(out, "alice"));
    writeFileSync(join(out, "alice", "sample.png"), "the user's own file\n");
    await expect(save(out, "alice", "sample.png")).rejects.toBeInstanceOf(SaveConflictError);
    expect(readFileSync(join(out, "alice", "sample.png"), "utf8")).toBe("the user's own file\n");
    expect(await listFiles(out)).toEqual(["alice/sample.png"]);
  });

  test("an existing NAME.p7s that is not this image's signature is never overwritten", async () => {
    // An owner may post both "pic.png" and "pic.png.p7s" (a valid image name): saving
    // the first must not replace the second, which a receiver already saved.
    using out = tempDir("sis-out-");
    await save(out, "alice", "pic.png.p7s");
    expect(fileFingerprint(join(out, "alice", "pic.png.p7s"))).toBe(fingerprint(image));
    await expect(save(out, "alice", "pic.png")).rejects.toBeInstanceOf(SaveConflictError);
    expect(fileFingerprint(join(out, "alice", "pic.png.p7s"))).toBe(fingerprint(image));
    // All or nothing: no image without its signature, no temporary file.
    expect(await listFiles(out)).toEqual(["alice/pic.png.p7s", "alice/pic.png.p7s.p7s"]);
  });

  test("an existing NAME.p7s equal to this image's signature is accepted as it is", async () => {
    using out = tempDir("sis-out-");
    mkdirSync(join(out, "alice"));
    writeFileSync(join(out, "alice", "sample.png.p7s"), signature);
    expect((await save(out, "alice", "sample.png")).written).toBe(true);
    expect(await listFiles(out)).toEqual(["alice/sample.png", "alice/sample.png.p7s"]);
  });

  test("a symbolic link at the target is not written through", async () => {
    using sandbox = tempDir("sis-sandbox-");
    const out = join(sandbox, "out");
    const victim = join(sandbox, "victim.txt");
    writeFileSync(victim, "outside OUT\n");
    mkdirSync(join(out, "alice"), { recursive: true });
    symlinkSync(victim, join(out, "alice", "sample.png"));
    await expect(save(out, "alice", "sample.png")).rejects.toBeInstanceOf(SaveConflictError);
    expect(readFileSync(victim, "utf8")).toBe("outside OUT\n");
    expect(await listFiles(sandbox)).toEqual(["out/alice/sample.png", "victim.txt"]);
  });

  test("an owner directory that is a symbolic link out of OUT is refused", async () => {
    using sandbox = tempDir("sis-sandbox-");
    const out = join(sandbox, "out");
    mkdirSync(out);
    mkdirSync(join(sandbox, "elsewhere"));
    symlinkSync(join(sandbox, "elsewhere"), join(out, "alice"));
    await expect(OutputFile.create(out, "alice", "sample.png")).rejects.toThrow(/not a plain directory/);
    expect(await listFiles(join(sandbox, "elsewhere"))).toEqual([]);
  });

  const hostile: [string, string][] = [
    ["..", "escape.png"],
    ["alice", "../escape.png"],
    ["alice", "../../escape.png"],
    ["..", "../escape.png"],
    ["alice/../..", "escape.png"],
    ["alice", "x/../../../escape.png"],
    ["/tmp", "escape.png"],
    ["alice", "/tmp/escape.png"],
    [".", "escape.png"],
    ["alice", ".."],
    ["alice", "."],
    ["alice", ""],
    ["", "escape.png"],
  ];

  test.each(hostile)("owner %p with name %p never writes outside OUT", async (owner, name) => {
    using sandbox = tempDir("sis-sandbox-");
    const out = join(sandbox, "out");
    mkdirSync(out);
    let saved: string | null = null;
    try {
      saved = (await save(out, owner, name)).path;
    } catch {
      // refusing is the expected answer for most of these
    }
    const files = await listFiles(sandbox);
    for (const f of files) expect(f.startsWith("out/")).toBe(true);
    if (saved !== null) expect(saved.startsWith(out + "/")).toBe(true);
    // Whatever happened, no temporary file is left.
    expect(files.filter((f) => f.includes(PARTIAL_PREFIX))).toEqual([]);
  });

  test("a name that climbs out of OUT is refused before any directory is made", async () => {
    using sandbox = tempDir("sis-sandbox-");
    const out = join(sandbox, "out");
    mkdirSync(out);
    await expect(OutputFile.create(out, "alice", "../../made/escape.png")).rejects.toThrow(/outside/);
    await expect(OutputFile.create(out, "..", "escape.png")).rejects.toThrow(/outside/);
    expect(await listFiles(sandbox)).toEqual([]);
  });
});
