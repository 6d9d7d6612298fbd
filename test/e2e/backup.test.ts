/** sis admin backup / verify-backup / restore through the compiled binary, while the server takes uploads. */
// First, before anything loads @peculiar/x509 (security-kit signs a crafted upload).
import "../../src/pki/reflect-polyfill.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Home } from "../../src/client/home.ts";
import { encodeData, encodeMessage, MAX_DATA_FRAME } from "../../src/protocol/index.ts";
import { WRITE_BUFFER_SIZE } from "../../src/store/file-blob-writer.ts";
import { snapshotInfo } from "../../src/store/sqlite-backup.ts";
import { register, SIS, sis, startServe, tempDir, type Result, type ServerProcess } from "../support/cli.ts";
import { rawConnect } from "../support/raw-client.ts";
import { craftPost, pngLike, storageCert, type User } from "../support/security-kit.ts";
import { postedId, sha256File, writeBigPng } from "../support/share.ts";
import { until } from "../support/until.ts";

let root: string & Disposable;
let server: ServerProcess;
let alice: string;
/** 20 concurrent uploads need 5 users: the server allows 4 at a time per user (MAX_UPLOADS_PER_USER). */
const USERS = ["alice", "bob", "carol", "dave", "erin"];
/** OWNER/NAME → sha256 of every image posted, and those acknowledged before the first backup began. */
const posted = new Map<string, string>();
const ackedBeforeBackup = new Set<string>();
let firstBackup: Result;

function post(user: string, file: string): Promise<Result> {
  return sis(["post", "--home", join(root, user), file], { timeoutMs: 120_000 });
}

async function makeImage(user: string, name: string, size: number): Promise<string> {
  const path = join(root, "src", name);
  await writeBigPng(path, size);
  posted.set(`${user}/${name}`, await sha256File(path));
  return path;
}

function blobEntries(dest: string): Map<string, { ino: number; mtimeMs: number }> {
  const dir = join(dest, "blobs");
  return new Map(readdirSync(dir).map((n) => [n, { ino: statSync(join(dir, n)).ino, mtimeMs: statSync(join(dir, n)).mtimeMs }]));
}

function latestManifest(dest: string): { snapshot: string; images: number; files: { path: string; size: number; sha256: string }[] } {
  const name = readFileSync(join(dest, "latest"), "utf8").trim();
  return JSON.parse(readFileSync(join(dest, "snapshots", name, "manifest.json"), "utf8"));
}

/** Every file 0600, every directory 0700, all the way down. */
function modesOf(dir: string): string[] {
  const wrong: string[] = [];
  const walk = (path: string) => {
    const st = statSync(path);
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path} ${mode.toString(8)}`);
      for (const n of readdirSync(path)) walk(join(path, n));
    } else if (mode !== 0o600) wrong.push(`${path} ${mode.toString(8)}`);
  };
  walk(dir);
  return wrong;
}

function containsText(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (path: string) => {
    if (statSync(path).isDirectory()) for (const n of readdirSync(path)) walk(join(path, n));
    else if (readFileSync(path).includes(needle)) hits.push(path);
  };
  walk(dir);
  return hits;
}

/** Starts a server on a restored data directory at the original's port, so alice's home reaches it unchanged. */
async function serveRestored(data: string): Promise<ServerProcess> {
  return startServe(data, ["--port", String(server.port)]);
}

/** Every image the server lists downloads and verifies (sis get checks chunks, signature, CA, CRL) and matches what was posted. */
async function downloadAll(label: string): Promise<Set<string>> {
  const list = await sis(["list", "--home", alice, "--json"]);
  expect({ code: list.code, stderr: list.stderr }).toEqual({ code: 0, stderr: "" });
  const names = new Set((JSON.parse(list.stdout) as { owner: string; name: string }[]).map((i) => `${i.owner}/${i.name}`));
  const out = join(root, `got-${label}`);
  mkdirSync(out);
  for (const ref of names) {
    const got = await sis(["get", "--home", alice, "-o", out, ref]);
    expect({ ref, code: got.code, stderr: got.stderr }).toEqual({ ref, code: 0, stderr: "" });
    expect(await sha256File(join(out, ref))).toBe(posted.get(ref)!);
  }
  return names;
}

beforeAll(async () => {
  root = tempDir("sis-backup-");
  mkdirSync(join(root, "src"));
  server = await startServe(join(root, "data"));
  alice = join(root, "alice");
  for (const r of await Promise.all(USERS.map((u) => register(server, u, join(root, u))))) {
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  for (let i = 0; i < 5; i++) {
    const res = await post("alice", await makeImage("alice", `before-${i}.png`, 40_000 + i * 1000));
    expect(res.code).toBe(0);
    ackedBeforeBackup.add(`alice/before-${i}.png`);
  }
  // 20 concurrent uploads (4 per user); the backup starts once the first of them is acknowledged.
  const owner = (i: number) => USERS[i % USERS.length]!;
  const files = await Promise.all(Array.from({ length: 20 }, (_, i) => makeImage(owner(i), `during-${i}.png`, 300_000 + i * 50_000)));
  const done = new Set<string>();
  const uploads = files.map((f, i) =>
    post(owner(i), f).then((res) => {
      if (res.code === 0) {
        postedId(res, owner(i), `during-${i}.png`);
        done.add(`${owner(i)}/during-${i}.png`);
      }
      return res;
    }),
  );
  await Promise.race(uploads);
  for (const n of done) ackedBeforeBackup.add(n);
  const ackedAtStart = done.size;
  firstBackup = await sis(["admin", "backup", join(root, "b"), "--data", server.dataDir]);
  const doneAtEnd = done.size;
  const results = await Promise.all(uploads);
  console.log(`first backup began with ${ackedAtStart} of the 20 concurrent uploads acknowledged, ended with ${doneAtEnd}: ${firstBackup.stdout.trim()}`);
  for (const res of results) expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: "" });
}, 600_000);

afterAll(async () => {
  await server?.stop();
  root?.[Symbol.dispose]();
});

describe("backup and restore", () => {
  test("B1, B2: a backup taken during 20 concurrent uploads restores into a server where every image acknowledged before it began downloads and verifies", async () => {
    expect({ code: firstBackup.code }).toEqual({ code: 0 });
    expect(firstBackup.stdout).toMatch(/^backup \S+: \d+ images; \d+ blobs copied, 0 unchanged\n$/);
    // The backup's log line (stderr of the admin command): one JSON object, its facts as fields.
    const dest = join(root, "b");
    const logLine = JSON.parse(firstBackup.stderr.trim()) as Record<string, unknown>;
    const [, images, copied] = /: (\d+) images; (\d+) blobs copied/.exec(firstBackup.stdout)!;
    expect(logLine).toMatchObject({ level: "info", event: "backup", snapshot: latestManifest(dest).snapshot, data: server.dataDir, dest, images: Number(images), copied: Number(copied), unchanged: 0, vanished: 0, encrypted: false });
    expect(Object.keys(logLine).slice(0, 3)).toEqual(["time", "level", "msg"]);
    const verified = await sis(["admin", "verify-backup", dest]);
    expect({ code: verified.code, stderr: verified.stderr }).toEqual({ code: 0, stderr: "" });
    expect(verified.stdout).toMatch(/is sound: \d+ files, \d+ bytes, \d+ images/);

    const restored = join(root, "restored");
    const r = await sis(["admin", "restore", dest, "--data", restored]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    // Every key and certificate comes back byte for byte: CA, TLS, storage and the TSA (a new TSA or storage key would go unnoticed by the downloads below).
    const keyFiles = readdirSync(server.dataDir).filter((n) => statSync(join(server.dataDir, n)).isFile() && !n.startsWith("sis.db"));
    expect(keyFiles).toEqual(expect.arrayContaining(["ca.key", "ca.pem", "server.key", "server.pem", "server.hosts", "storage.key", "storage.pem", "storage-ecdh.key", "storage-ecdh.pem", "tsa.key", "tsa.pem"]));
    for (const n of keyFiles) expect({ n, same: readFileSync(join(restored, n)).equals(readFileSync(join(server.dataDir, n))) }).toEqual({ n, same: true });
    await server.stop();
    const again = await serveRestored(restored);
    try {
      // The same CA: alice's pinned fingerprint still matches.
      expect(again.fingerprint).toBe(server.fingerprint);
      const names = await downloadAll("restored");
      for (const n of ackedBeforeBackup) expect(names.has(n)).toBe(true);
      expect(names.size).toBe(latestManifest(dest).images);
    } finally {
      await again.stop();
    }
    server = await startServe(server.dataDir, ["--port", String(server.port)]);
  }, 600_000);

  test("B4: incremental: a second backup copies only the new blobs, a third copies none (files untouched)", async () => {
    const dest = join(root, "b");
    const first = latestManifest(dest).images;
    const second = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`: 25 images; ${25 - first} blobs copied, ${first} unchanged`);
    const before = blobEntries(dest);
    const third = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect(third.code).toBe(0);
    expect(third.stdout).toContain(": 25 images; 0 blobs copied, 25 unchanged");
    const after = blobEntries(dest);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, st] of after) expect(st).toEqual(before.get(name)!);
    // Only the newest snapshot is kept.
    expect(readdirSync(join(dest, "snapshots"))).toEqual([readFileSync(join(dest, "latest"), "utf8").trim()]);
  }, 300_000);

  test("a backup killed with SIGKILL at any point leaves the previous one whole; the next run cleans up and succeeds (B3)", async () => {
    const dest = join(root, "b");
    const before = latestManifest(dest).snapshot;
    const proc = Bun.spawn([SIS, "admin", "backup", dest, "--data", server.dataDir], { stdout: "ignore", stderr: "ignore" });
    // Kill it once it has begun building (or as soon as it has finished, if it was quicker).
    await until(() => existsSync(join(dest, "tmp")) || proc.exitCode !== null, "the backup to start building", 30_000);
    proc.kill("SIGKILL");
    await proc.exited;
    const latest = latestManifest(dest).snapshot;
    const verified = await sis(["admin", "verify-backup", dest]);
    expect({ code: verified.code, stderr: verified.stderr }).toEqual({ code: 0, stderr: "" });
    expect(verified.stdout).toContain(`backup ${latest} `);
    // `latest` is the previous snapshot, or this run's if the kill came after the switch: whole either way.
    expect(latest === before || readdirSync(join(dest, "snapshots")).includes(latest)).toBe(true);
    const next = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect(next.code).toBe(0);
    expect(existsSync(join(dest, "tmp"))).toBe(false);
    expect(readdirSync(join(dest, "snapshots"))).toEqual([latestManifest(dest).snapshot]);
  }, 120_000);

  test("one backup at a time per DEST: a live lock refuses, a dead process's lock is taken over (B3)", async () => {
    const dest = join(root, "b");
    writeFileSync(join(dest, "lock"), `${process.pid}\n`);
    const refused = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`another backup into ${dest} is running (pid ${process.pid}); wait for it to finish`);
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    writeFileSync(join(dest, "lock"), `${gone.pid}\n`);
    const taken = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect({ code: taken.code, stderr: taken.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('"event":"backup"') });
    expect(existsSync(join(dest, "lock"))).toBe(false);
  });

  test("B5: the backup is private: directories 0700, files 0600; the plain one holds the keys", () => {
    const dest = join(root, "b");
    expect(modesOf(dest)).toEqual([]);
    expect(containsText(dest, "PRIVATE KEY").length).toBeGreaterThanOrEqual(3); // CA, TLS, storage
  });

  test("B6: verify-backup catches a deleted blob and a flipped byte", async () => {
    const dest = join(root, "b");
    const blobs = latestManifest(dest).files.filter((f) => f.path.startsWith("blobs/"));
    const gone = join(dest, blobs[0]!.path);
    const saved = readFileSync(gone);
    unlinkSync(gone);
    const missing = await sis(["admin", "verify-backup", dest]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`${blobs[0]!.path}: missing`);
    expect(missing.stderr).toContain("sis: cannot verify backup");
    writeFileSync(gone, saved, { mode: 0o600 });
    expect((await sis(["admin", "verify-backup", dest])).code).toBe(0);

    const flipped = join(dest, blobs[1]!.path);
    const bytes = readFileSync(flipped);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(flipped, bytes);
    const damaged = await sis(["admin", "verify-backup", dest]);
    expect(damaged.code).toBe(3);
    expect(damaged.stderr).toContain(`${blobs[1]!.path}: damaged (SHA-256 differs from the manifest)`);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(flipped, bytes);

    // A damaged database: its SHA-256 differs; with the manifest's sum forged to match, integrity_check still catches it.
    const manifestPath = join(dest, "snapshots", latestManifest(dest).snapshot, "manifest.json");
    const manifestText = readFileSync(manifestPath, "utf8");
    const db = latestManifest(dest).files.find((f) => f.path.endsWith("/sis.db"))!;
    const dbBytes = readFileSync(join(dest, db.path));
    const original = Buffer.from(dbBytes);
    dbBytes[4096] = 0x00; // page 2's b-tree page type: no valid page has 0
    writeFileSync(join(dest, db.path), dbBytes);
    const badDb = await sis(["admin", "verify-backup", dest]);
    expect(badDb.code).toBe(3);
    expect(badDb.stderr).toContain(`${db.path}: damaged`);
    const forged = JSON.parse(manifestText);
    forged.files.find((f: { path: string }) => f.path === db.path).sha256 = await sha256File(join(dest, db.path));
    writeFileSync(manifestPath, JSON.stringify(forged));
    const badIntegrity = await sis(["admin", "verify-backup", dest]);
    expect(badIntegrity.code).toBe(3);
    expect(badIntegrity.stderr).toContain(`${db.path}: integrity_check: `);
    writeFileSync(join(dest, db.path), original);
    writeFileSync(manifestPath, manifestText);
    expect((await sis(["admin", "verify-backup", dest])).code).toBe(0);
  }, 300_000);

  test("B7: restore refuses a directory that is not empty, and leaves it as it was", async () => {
    const target = join(root, "occupied");
    mkdirSync(target);
    writeFileSync(join(target, "keep.txt"), "mine");
    const r = await sis(["admin", "restore", join(root, "b"), "--data", target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`sis: cannot restore ${join(root, "b")} into ${target}: ${target} is not empty; restore into a new or empty directory (nothing was changed)\n`);
    expect(readdirSync(target)).toEqual(["keep.txt"]);
    // A backup from a newer sis (a higher schema version) is refused before anything is written.
    const newer = join(root, "b-newer");
    expect(Bun.spawnSync(["cp", "-a", join(root, "b"), newer]).exitCode).toBe(0);
    const manifestPath = join(newer, "snapshots", latestManifest(newer).snapshot, "manifest.json");
    writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(readFileSync(manifestPath, "utf8")), schemaVersion: 99, sisVersion: "9.0.0" }));
    const tooNew = await sis(["admin", "restore", newer, "--data", join(root, "from-newer")]);
    expect(tooNew.code).toBe(1);
    expect(tooNew.stderr).toContain("(schema 99) was made by sis 9.0.0, newer than this one");
    expect(existsSync(join(root, "from-newer"))).toBe(false);
    const usage = await sis(["admin", "restore", join(root, "b")]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("give --data DIR");
  });

  test("B8-B10: --encrypt: passphrase from stdin, no plaintext key in the backup, wrong passphrase refused, restore serves the images", async () => {
    const dest = join(root, "enc");
    const made = await sis(["admin", "backup", dest, "--data", server.dataDir, "--encrypt"], { stdin: "correct horse battery\n" });
    expect({ code: made.code, stdout: made.stdout }).toEqual({ code: 0, stdout: expect.stringContaining(": 25 images; 25 blobs copied, 0 unchanged") });
    expect(JSON.parse(made.stderr.trim())).toMatchObject({ event: "backup", encrypted: true, copied: 25 });
    expect(made.stderr).not.toContain("correct horse");
    expect(containsText(dest, "PRIVATE KEY")).toEqual([]);
    expect(containsText(dest, "BEGIN CERTIFICATE")).toEqual([]);
    expect(modesOf(dest)).toEqual([]);

    const wrong = await sis(["admin", "verify-backup", dest], { stdin: "wrong horse\n" });
    expect(wrong).toEqual({ code: 1, stdout: "", stderr: `sis: cannot verify backup ${dest}: wrong passphrase for the encrypted backup in ${dest}\n` });
    const wrongRestore = await sis(["admin", "restore", dest, "--data", join(root, "never")], { stdin: "wrong horse\n" });
    expect(wrongRestore.code).toBe(1);
    expect(wrongRestore.stderr).toContain("wrong passphrase");
    expect(existsSync(join(root, "never")) ? readdirSync(join(root, "never")) : []).toEqual([]);
    const wrongBackup = await sis(["admin", "backup", dest, "--data", server.dataDir, "--encrypt"], { stdin: "wrong horse\n" });
    expect(wrongBackup.code).toBe(1);
    expect(wrongBackup.stderr).toContain("wrong passphrase");
    const unencrypted = await sis(["admin", "backup", dest, "--data", server.dataDir]);
    expect(unencrypted.code).toBe(1);
    expect(unencrypted.stderr).toContain("holds an encrypted backup; add --encrypt");

    const ok = await sis(["admin", "verify-backup", dest], { stdin: "correct horse battery\n" });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });
    const incremental = await sis(["admin", "backup", dest, "--data", server.dataDir, "--encrypt"], { stdin: "correct horse battery\n" });
    expect(incremental.stdout).toContain(": 25 images; 0 blobs copied, 25 unchanged");

    // A flipped byte in an encrypted blob fails its chunk's authentication.
    const blob = join(dest, "blobs", readdirSync(join(dest, "blobs"))[0]!);
    const bytes = readFileSync(blob);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(blob, bytes);
    const damaged = await sis(["admin", "verify-backup", dest], { stdin: "correct horse battery\n" });
    expect(damaged.code).toBe(3);
    expect(damaged.stderr).toContain("failed authentication");
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(blob, bytes);

    const restored = join(root, "restored-enc");
    const r = await sis(["admin", "restore", dest, "--data", restored], { stdin: "correct horse battery\n" });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(join(restored, "ca.key"))).toEqual(readFileSync(join(server.dataDir, "ca.key")));
    await server.stop();
    const again = await serveRestored(restored);
    try {
      expect((await downloadAll("restored-enc")).size).toBe(25);
    } finally {
      await again.stop();
    }
    server = await startServe(server.dataDir, ["--port", String(server.port)]);
  }, 600_000);

  test("an image whose blob is gone by the time it is copied (deleted while the backup ran) is left out of the snapshot, which stays consistent (B2)", async () => {
    await server.stop(); // a stopped server's directory can be copied with cp
    const copy = join(root, "data-copy");
    expect(Bun.spawnSync(["cp", "-a", server.dataDir, copy]).exitCode).toBe(0);
    const blobs = readdirSync(join(copy, "blobs")).filter((n) => /^[0-9a-f]{32}$/.test(n));
    unlinkSync(join(copy, "blobs", blobs[0]!));
    const dest = join(root, "b-vanished");
    const r = await sis(["admin", "backup", dest, "--data", copy]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(": 24 images; 24 blobs copied, 0 unchanged, 1 deleted meanwhile left out");
    expect(r.stderr).toContain("1 deleted while it ran left out");
    const v = await sis(["admin", "verify-backup", dest]);
    expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: "" });
    expect(latestManifest(dest).files.some((f) => f.path === `blobs/${blobs[0]}`)).toBe(false);
    server = await startServe(server.dataDir, ["--port", String(server.port)]);
  }, 120_000);
  test("an upload under way through the whole backup is not in it (no row, no blob, no temporary file once restored); on the live server it then finishes and is kept (B1, B2)", async () => {
    const home = new Home(alice);
    const creds = await home.credentials();
    const user: User = { name: "alice", password: "", home, creds };
    const client = await rawConnect(server.port, { certPem: creds.certPem, keyPem: creds.keyPem });
    try {
      const hello = await client.hello();
      if (hello?.type !== "HELLO") throw new Error(`expected HELLO, got ${JSON.stringify(hello)}`);
      const { message, ciphertext } = await craftPost(user, storageCert(hello), { name: "held.png", bytes: pngLike(3 * 1024 * 1024) });
      client.write(encodeMessage(message));
      expect((await client.next())?.type).toBe("UPLOAD_READY");
      // Every data frame but the last: the upload stays under way (within --upload-stall-timeout) while the backup runs.
      const cut = Math.floor((ciphertext.length - 1) / MAX_DATA_FRAME) * MAX_DATA_FRAME;
      for (let at = 0; at < cut; at += MAX_DATA_FRAME) client.write(encodeData(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
      const tmp = join(server.dataDir, "blobs", "tmp");
      // The server's writer holds up to WRITE_BUFFER_SIZE before it writes.
      await until(() => readdirSync(tmp).reduce((n, f) => n + statSync(join(tmp, f)).size, 0) >= cut - WRITE_BUFFER_SIZE, "the held upload's bytes on the server's disk");

      const dest = join(root, "b-held");
      const made = await sis(["admin", "backup", dest, "--data", server.dataDir]);
      expect({ code: made.code, stdout: made.stdout }).toEqual({ code: 0, stdout: expect.stringContaining(": 25 images; 25 blobs copied, 0 unchanged") });
      const verified = await sis(["admin", "verify-backup", dest]);
      expect({ code: verified.code, stderr: verified.stderr }).toEqual({ code: 0, stderr: "" });
      const restored = join(root, "restored-held");
      expect((await sis(["admin", "restore", dest, "--data", restored])).code).toBe(0);

      client.write(encodeData(ciphertext.subarray(cut)));
      const posted = await client.next();
      if (posted?.type !== "POSTED") throw new Error(`expected POSTED, got ${JSON.stringify(posted)}`);
      const heldId = posted.image.id;
      // Not in the backup: the restored database lacks the row, the blobs lack the file, tmp/ is empty.
      const restoredIds = snapshotInfo(join(restored, "sis.db")).imageIds;
      expect({ count: restoredIds.length, held: restoredIds.includes(heldId) }).toEqual({ count: 25, held: false });
      expect(existsSync(join(restored, "blobs", heldId))).toBe(false);
      expect(readdirSync(join(restored, "blobs", "tmp"))).toEqual([]);
      expect(latestManifest(dest).files.some((f) => f.path.includes(heldId))).toBe(false);
      // On the live server it is kept.
      const list = await sis(["list", "--home", alice, "--json"]);
      expect((JSON.parse(list.stdout) as { id: string; name: string }[]).find((i) => i.id === heldId)?.name).toBe("held.png");
    } finally {
      client.close();
    }
  }, 120_000);
});
