/** Sharing images through the compiled binary: post, list, get, refusals, and where files land. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sis, type Result, type ServerProcess } from "../support/cli.ts";
import { openSandbox, sandboxHooks, type Sandbox } from "../support/sandbox.ts";
import { rawConnect } from "../support/raw-client.ts";
import { listFiles, postedId, SAMPLE, sameFiles, writeBigPng } from "../support/share.ts";

const MAX_IMAGE = 64 * 1024;

let box: Sandbox;
let root: string;
let server: ServerProcess;
let alice: string;
let bob: string;

sandboxHooks(() => openSandbox("sis-share-", ["alice", "bob"], ["--max-image-size", String(MAX_IMAGE)]), (sb) => {
  box = sb;
  ({ root, server } = box);
  alice = box.home("alice");
  bob = box.home("bob");
});

const freshDir = (label: string): string => box.freshDir(label);

async function post(home: string, files: string[], extra: string[] = []): Promise<Result> {
  return sis(["post", "--home", home, ...extra, ...files]);
}

async function get(home: string, ref: string, out: string): Promise<Result> {
  return sis(["get", "--home", home, "-o", out, ref]);
}

interface Listed {
  seq: number;
  id: string;
  owner: string;
  name: string;
  size: number;
  contentType: string;
  createdAt: string;
}

async function listJson(home: string): Promise<Listed[]> {
  const r = await sis(["list", "--home", home, "--json"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(r.stdout) as Listed[];
}

async function blobFiles(): Promise<string[]> {
  return listFiles(join(server.dataDir, "blobs"));
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
}

describe("sharing images", () => {
  test("bob gets alice's PNG by OWNER/NAME and her JPEG by ID, byte-identical, with signatures openssl accepts", async () => {
    const posted = await post(alice, [SAMPLE.png, SAMPLE.jpg], ["--quiet"]);
    expect(posted.stderr).toBe("");
    expect(posted.code).toBe(0);
    expect(posted.stdout).toMatch(/^posted alice\/sample\.png id [0-9a-f]{32} \(12 KiB, image\/png\)\nposted alice\/sample\.jpg id [0-9a-f]{32} \(1\.9 KiB, image\/jpeg\)\n$/);
    const jpgId = postedId(posted, "alice", "sample.jpg");

    const out = freshDir("out");
    const byName = await get(bob, "alice/sample.png", out);
    expect(byName.stderr).toBe("");
    expect(byName.code).toBe(0);
    expect(byName.stdout).toMatch(new RegExp(`^saved alice/sample\\.png: signature by alice \\(serial [0-9a-f]+\\) verified\\n${join(out, "alice", "sample.png")}\\n$`));
    const byId = await get(bob, jpgId, out);
    expect(byId.stderr).toBe("");
    expect(byId.code).toBe(0);
    expect(byId.stdout).toStartWith("saved alice/sample.jpg: signature by alice");

    expect(await listFiles(out)).toEqual(["alice/sample.jpg", "alice/sample.jpg.p7s", "alice/sample.png", "alice/sample.png.p7s"]);
    expect(await sameFiles(SAMPLE.png, join(out, "alice", "sample.png"))).toBe(true);
    expect(await sameFiles(SAMPLE.jpg, join(out, "alice", "sample.jpg"))).toBe(true);
    for (const name of ["sample.png", "sample.jpg"]) {
      const file = join(out, "alice", name);
      const v = Bun.spawnSync(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", `${file}.p7s`, "-content", file, "-CAfile", join(bob, "ca.pem"), "-purpose", "any", "-out", "/dev/null"]);
      expect({ name, code: v.exitCode, stderr: v.stderr.toString() }).toEqual({ name, code: 0, stderr: "CMS Verification successful\n" });
    }
  });

  test("sis list --json gives id, owner, name, size, content type and time of every image", async () => {
    const started = Date.now();
    const posted = await post(alice, [SAMPLE.gif], ["--name", "listed.gif"]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const id = postedId(posted, "alice", "listed.gif");
    const images = await listJson(bob);
    const entry = images.find((i) => i.id === id);
    expect(entry).toMatchObject({ id, owner: "alice", name: "listed.gif", size: readFileSync(SAMPLE.gif).length, contentType: "image/gif" });
    expect(Object.keys(entry!).sort()).toEqual(["contentType", "createdAt", "id", "name", "owner", "seq", "size"]);
    expect(entry!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(entry!.createdAt)).toBeGreaterThanOrEqual(started - 1000);
    // Newest first, and both users see the same list.
    expect(images[0]!.id).toBe(id);
    expect(await listJson(alice)).toEqual(images);
  });

  test("a second get of the same image reports it as already saved and writes no duplicate", async () => {
    const posted = await post(alice, [SAMPLE.webp], ["--name", "twice.webp"]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const out = freshDir("out");
    const first = await get(bob, "alice/twice.webp", out);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
    expect(first.stdout).toStartWith("saved alice/twice.webp:");
    const second = await get(bob, postedId(posted, "alice", "twice.webp"), out);
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: "" });
    expect(second.stdout).toStartWith("already saved alice/twice.webp:");
    expect(await listFiles(out)).toEqual(["alice/twice.webp", "alice/twice.webp.p7s"]);
    expect(await sameFiles(SAMPLE.webp, join(out, "alice", "twice.webp"))).toBe(true);
  });

  test("get never overwrites a different file already at the target, and leaves no temporary file", async () => {
    const posted = await post(alice, [SAMPLE.png], ["--name", "clash.png"]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const out = freshDir("out");
    mkdirSync(join(out, "alice"));
    writeFileSync(join(out, "alice", "clash.png"), "bob's own notes, not alice's image\n");
    const r = await get(bob, "alice/clash.png", out);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`sis: cannot save ${join(out, "alice", "clash.png")}: a different file with that name is already there; move it away or use -o\n`);
    expect(r.code).toBe(1);
    expect(readFileSync(join(out, "alice", "clash.png"), "utf8")).toBe("bob's own notes, not alice's image\n");
    expect(await listFiles(out)).toEqual(["alice/clash.png"]);
  });

  test("get of an image named NAME never replaces an image already saved as NAME.p7s", async () => {
    // "pic.png.p7s" is a valid image name; its file and the signature of "pic.png" want the same path.
    const posted = await post(alice, [SAMPLE.jpg], ["--name", "pic.png.p7s"]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const posted2 = await post(alice, [SAMPLE.png], ["--name", "pic.png"]);
    expect({ code: posted2.code, stderr: posted2.stderr }).toEqual({ code: 0, stderr: "" });
    const out = freshDir("out");
    const first = await get(bob, "alice/pic.png.p7s", out);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
    const second = await get(bob, "alice/pic.png", out);
    expect(await sameFiles(SAMPLE.jpg, join(out, "alice", "pic.png.p7s"))).toBe(true);
    // Refusing is one right answer; whatever it is, it says so and leaves no temporary file.
    if (second.code !== 0) expect(second.stderr).toStartWith("sis: cannot save ");
    expect((await listFiles(out)).filter((f) => f.includes(".sis-partial-"))).toEqual([]);
  });

  test("posting a second image under a taken name fails with NAME_TAKEN and keeps the first", async () => {
    const first = await post(alice, [SAMPLE.png], ["--name", "taken.png"]);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
    const before = await listJson(alice);
    const blobs = await blobFiles();
    const second = await post(alice, [SAMPLE.jpg], ["--name", "taken.png"]);
    expect(second).toEqual({ code: 1, stdout: "", stderr: `sis: cannot post: you already have an image named "taken.png"; choose another --name (NAME_TAKEN)\n` });
    expect(await listJson(alice)).toEqual(before);
    expect(await blobFiles()).toEqual(blobs);
    // The name is per owner: bob may use it.
    const bobs = await post(bob, [SAMPLE.jpg], ["--name", "taken.png"]);
    expect({ code: bobs.code, stderr: bobs.stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("post refuses a file that is not an image, whatever its name, and uploads nothing", async () => {
    const dir = freshDir("files");
    const fake = join(dir, "holiday.png");
    writeFileSync(fake, "#!/bin/sh\necho this is a script, not a picture\n");
    const before = await listJson(alice);
    const blobs = await blobFiles();
    const r = await post(alice, [fake]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `sis: cannot post ${fake}: it is not a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image (judged by its content)\n` });
    expect(await listJson(alice)).toEqual(before);
    expect(await blobFiles()).toEqual(blobs);
    expect(await metrics()).not.toContain('code="BAD_IMAGE"');
  });

  test("post refuses an image larger than the server's --max-image-size before uploading it", async () => {
    const dir = freshDir("files");
    const big = join(dir, "big.png");
    await writeBigPng(big, MAX_IMAGE + 1);
    const before = await listJson(alice);
    const blobs = await blobFiles();
    const r = await post(alice, [big]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `sis: cannot post ${big}: it is ${MAX_IMAGE + 1} bytes and the server takes at most ${MAX_IMAGE}\n` });
    expect(await listJson(alice)).toEqual(before);
    expect(await blobFiles()).toEqual(blobs);
    // The server was never asked: it counted no TOO_LARGE refusal.
    expect(await metrics()).not.toContain('code="TOO_LARGE"');
    // One byte less is accepted: the limit is the one the server announced.
    const exact = join(dir, "exact.png");
    await writeBigPng(exact, MAX_IMAGE);
    const ok = await post(alice, [exact], ["--quiet"]);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("a name with ../ is refused by post and a get with ../ never writes outside OUT", async () => {
    const before = await listJson(alice);
    const r = await post(alice, [SAMPLE.png], ["--name", "../escape.png"]);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^sis: cannot use --name "\.\.\/escape\.png": .*; choose another name\n$/);
    expect(r.code).toBe(2);
    expect(await listJson(alice)).toEqual(before);

    const sandbox = freshDir("sandbox");
    const out = join(sandbox, "out");
    mkdirSync(out);
    for (const ref of ["alice/../escape.png", "../sample.png", "alice/../../etc/passwd", "../../sample.png"]) {
      const g = await get(bob, ref, out);
      expect({ ref, code: g.code === 0 ? 0 : "failed", stdout: g.stdout }).toEqual({ ref, code: "failed", stdout: "" });
      expect(g.stderr).toStartWith("sis: cannot ");
    }
    expect(await listFiles(sandbox)).toEqual([]);
    expect(existsSync(join(root, "escape.png"))).toBe(false);
  });

  test("NEW_IMAGE reaches every connected session, the owner's other sessions included", async () => {
    const pem = (home: string, file: string) => readFileSync(join(home, file), "utf8");
    await using aliceElsewhere = await rawConnect(server.port, { certPem: pem(alice, "cert.pem"), keyPem: pem(alice, "key.pem") });
    await using bobSession = await rawConnect(server.port, { certPem: pem(bob, "cert.pem"), keyPem: pem(bob, "key.pem") });
    expect(await aliceElsewhere.hello()).toMatchObject({ type: "HELLO", user: "alice" });
    expect(await bobSession.hello()).toMatchObject({ type: "HELLO", user: "bob" });
    const posted = await post(alice, [SAMPLE.png], ["--name", "announced.png"]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const image = { id: postedId(posted, "alice", "announced.png"), owner: "alice", name: "announced.png", size: readFileSync(SAMPLE.png).length, contentType: "image/png" };
    expect(await aliceElsewhere.next()).toMatchObject({ type: "NEW_IMAGE", image });
    expect(await bobSession.next()).toMatchObject({ type: "NEW_IMAGE", image });
  });
});
