/**
 * Protocol versions across builds (PROTOCOL.md P10a): a client of version 1 (the build of
 * VERSION_ONE_COMMIT) keeps posting and watching against this server, and this client falls back
 * to version 1 against that build's server. Real binaries, real TLS, real files.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { sis, startServe, startWatch, tempDir, type ServerProcess } from "../support/cli.ts";
import { beforeP256TsaBinary, BEFORE_P256_TSA_COMMIT, runAs, versionOneBinary } from "../support/old-binary.ts";
import { SAMPLE, sameFiles } from "../support/share.ts";

setDefaultTimeout(120_000);

let old: string[];
beforeAll(async () => {
  old = runAs(await versionOneBinary());
}, 600_000);

/** An album folder of the four sample images under `dir`. */
function album(dir: string, prefix: string): { dir: string; files: Map<string, string> } {
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, string>();
  for (const [ext, path] of Object.entries(SAMPLE)) {
    const name = `${prefix}-${ext}.${ext}`;
    copyFileSync(path, join(dir, name));
    files.set(name, path);
  }
  return { dir, files };
}

const SAVED = (owner: string, name: string) => new RegExp(` saved ${owner}/${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(#\\d+\\): signature by ${owner} \\(serial [0-9a-f]+\\) verified -> `);

/** alice (client `postAs`) posts an album while bob (client `watchAs`) watches; every image arrives verified and byte-identical. */
async function shareAlbum(server: ServerProcess, root: string, postAs: string[], watchAs: string[], prefix: string): Promise<void> {
  for (const [user, as] of [["alice", postAs], ["bob", watchAs]] as const) {
    const r = await sis(["register", "--server", server.address, "--user", user, "--home", join(root, user), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], { stdin: `${user}-password-1\n`, prefix: as });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  const out = join(root, "out");
  const { dir, files } = album(join(root, "album"), prefix);
  await using w = startWatch(join(root, "bob"), out, { prefix: watchAs });
  await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
  const posted = await sis(["post", "--quiet", "--home", join(root, "alice"), dir], { prefix: postAs });
  expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
  expect(posted.stdout.trim().split("\n")).toHaveLength(files.size);
  for (const name of files.keys()) await w.waitFor(SAVED("alice", name));
  for (const [name, source] of files) expect(await sameFiles(source, join(out, "alice", name))).toBe(true);
  // One more, alone (`sis post FILE`), the way a single picture is shared.
  const single = await sis(["post", "--home", join(root, "alice"), "--name", `${prefix}-single.png`, SAMPLE.png], { prefix: postAs });
  expect({ code: single.code, stderr: single.stderr }).toEqual({ code: 0, stderr: "" });
  await w.waitFor(SAVED("alice", `${prefix}-single.png`));
  expect(w.lines.filter((l) => / refused | error/i.test(l))).toEqual([]);
}

describe("a client of protocol version 1 against this server", () => {
  test("posts a folder and a file, and watches, exactly as before", async () => {
    await using root = tempDir("sis-compat-old-client-");
    await using server = await startServe(join(root, "data"));
    await shareAlbum(server, root, old, old, "old");
    expect(server.log()).not.toMatch(/internal error|BAD_MESSAGE|BAD_UPLOAD/);
  });

  test("watches what this client posts over version 2", async () => {
    await using root = tempDir("sis-compat-mixed-");
    await using server = await startServe(join(root, "data"));
    await shareAlbum(server, root, [], old, "mixed");
  });
});

describe("this client against a server of protocol version 1", () => {
  test("falls back to version 1: registers, posts a folder and a file, watches", async () => {
    await using root = tempDir("sis-compat-old-server-");
    await using server = await startServe(join(root, "data"), [], { prefix: old });
    await shareAlbum(server, root, [], [], "fallback");
  });
});

describe(`a receiver built before P-256 time-stamping keys (${BEFORE_P256_TSA_COMMIT}) against this server`, () => {
  test("still saves and verifies an image stamped with this server's P-256 key, and says the stamp was not used", async () => {
    const before = runAs(await beforeP256TsaBinary());
    await using root = tempDir("sis-compat-p256-");
    await using server = await startServe(join(root, "data"));
    // This server made a new data directory, so its time-stamping key is P-256 (ENVELOPE.md G9).
    const tsa = Bun.spawnSync(["openssl", "x509", "-in", join(server.dataDir, "tsa.pem"), "-noout", "-text"]);
    expect(tsa.stdout.toString()).toMatch(/Public Key Algorithm: id-ecPublicKey[\s\S]*ASN1 OID: prime256v1/);
    for (const [user, as] of [["alice", [] as string[]], ["bob", before]] as const) {
      const r = await sis(["register", "--server", server.address, "--user", user, "--home", join(root, user), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], { stdin: `${user}-password-1\n`, prefix: as });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    }
    const posted = await sis(["post", "--quiet", "--home", join(root, "alice"), "--name", "stamped.png", SAMPLE.png]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const out = join(root, "out");
    const got = await sis(["get", "--home", join(root, "bob"), "-o", out, "alice/stamped.png"], { prefix: before });
    // The older receiver cannot read the token's ECDSA signature: it judges the signer as of now
    // (V12), which a valid certificate passes, and the image is saved verified.
    expect(got).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^saved alice\/stamped\.png: signature by alice \(serial [0-9a-f]+\) verified\n/),
      stderr: expect.stringMatching(/^sis: warning: alice\/stamped\.png: the time-stamp was not used: TIMESTAMP_MALFORMED: .*; the signer's certificate was judged as of now\n$/),
    });
    expect(await sameFiles(SAMPLE.png, join(out, "alice", "stamped.png"))).toBe(true);
    // This build's receiver uses the same token.
    const now = await sis(["get", "--home", join(root, "alice"), "-o", join(root, "out-now"), "alice/stamped.png"]);
    expect(now).toMatchObject({ code: 0, stderr: "", stdout: expect.stringMatching(/^saved alice\/stamped\.png: signature by alice \(serial [0-9a-f]+\) verified\n/) });
  }, 600_000);
});
