/** What a receiver refuses: a stored blob changed on the server's disk, and an owner whose certificate was revoked. */
import { describe, expect, test } from "bun:test";
import { openSync, readSync, statSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { sis, type ServerProcess } from "../support/cli.ts";
import { openSandbox, sandboxHooks, type Sandbox } from "../support/sandbox.ts";
import { listFiles, postedId, SAMPLE, sameFiles } from "../support/share.ts";

let box: Sandbox;
let server: ServerProcess;
let alice: string;
let bob: string;
let carol: string;

sandboxHooks(() => openSandbox("sis-tamper-", ["alice", "bob", "carol"]), (sb) => {
  box = sb;
  ({ server } = box);
  alice = box.home("alice");
  bob = box.home("bob");
  carol = box.home("carol");
});

const freshDir = (label: string): string => box.freshDir(label);

/** Flips every bit of one byte of a file in place. */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, "r+");
  try {
    const b = Buffer.alloc(1);
    expect(readSync(fd, b, 0, 1, offset)).toBe(1);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

async function postAs(home: string, file: string, name: string): Promise<string> {
  const r = await sis(["post", "--home", home, "--name", name, file]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return postedId(r, home === alice ? "alice" : home === carol ? "carol" : "bob", name);
}

/** The id as `sis list --json` reports it, for OWNER/NAME. */
async function listedId(owner: string, name: string): Promise<string> {
  const r = await sis(["list", "--home", bob, "--json"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const hit = (JSON.parse(r.stdout) as { id: string; owner: string; name: string }[]).find((i) => i.owner === owner && i.name === name);
  expect(hit).toBeDefined();
  return hit!.id;
}

let flips = 0;

describe("tampering and revocation", () => {
  test.each([
    ["the first byte of the ciphertext", (_size: number) => 0],
    ["a byte in the middle", (size: number) => Math.floor(size / 2)],
    ["the last byte (the final chunk's tag)", (size: number) => size - 1],
  ])("get of a blob with %s flipped on the server's disk exits 3 and writes nothing", async (label, where) => {
    const name = `flip-${++flips}.png`;
    const postedAs = await postAs(alice, SAMPLE.png, name);
    const id = await listedId("alice", name);
    expect(id).toBe(postedAs);
    const blob = join(server.dataDir, "blobs", id);
    const size = statSync(blob).size;
    // The blob is the ciphertext: the image plus one 16-byte tag per 64 KiB chunk.
    expect(size).toBe(statSync(SAMPLE.png).size + 16);

    // Untouched, it downloads; this is what makes the refusal below mean something.
    const control = freshDir("out");
    const ok = await sis(["get", "--home", bob, "-o", control, id]);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await sameFiles(SAMPLE.png, join(control, "alice", name))).toBe(true);

    flipByte(blob, where(size));
    const out = freshDir("out");
    const r = await sis(["get", "--home", bob, "-o", out, id]);
    expect({ label, stdout: r.stdout, code: r.code }).toEqual({ label, stdout: "", code: 3 });
    expect(r.stderr).toMatch(/^sis: cannot get: the image does not decrypt intact: .+\n$/);
    expect(await listFiles(out)).toEqual([]);
  });

  // Revocation by date (ENVELOPE.md V13): only a key compromise still refuses an image stamped before the revocation.
  test("get of an image whose owner's certificate was revoked for key compromise exits 3 and writes nothing", async () => {
    await postAs(carol, SAMPLE.jpg, "before-revocation.jpg");
    const control = freshDir("out");
    const ok = await sis(["get", "--home", bob, "-o", control, "carol/before-revocation.jpg"]);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });

    const revoke = await sis(["admin", "revoke", "carol", "--data", server.dataDir, "--reason", "keyCompromise"]);
    expect(revoke).toEqual({ code: 0, stdout: "revoked 1 certificate of carol (keyCompromise)\n", stderr: "" });

    const out = freshDir("out");
    const r = await sis(["get", "--home", bob, "-o", out, "carol/before-revocation.jpg"]);
    expect({ stdout: r.stdout, code: r.code }).toEqual({ stdout: "", code: 3 });
    expect(r.stderr).toMatch(/^sis: cannot get: the signer's certificate is not acceptable: .*revoked.*\n$/i);
    expect(await listFiles(out)).toEqual([]);

    // Carol herself can no longer connect: the server refuses her revoked certificate.
    const post = await sis(["post", "--home", carol, "--name", "after-revocation.jpg", SAMPLE.jpg]);
    expect({ stdout: post.stdout, code: post.code }).toEqual({ stdout: "", code: 3 });
    expect(post.stderr).toContain("CERT_REVOKED");
  });
});
