/** Images stay provable (issue 12, T1..T7, ENVELOPE.md G8..G10, V11..V13): the compiled server time-stamps, receivers judge at the stamp, 400 days on under faketime. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extractTimeStampToken, signatureValueOf } from "../../src/crypto/index.ts";
import { CertificateAuthority, createCa, createTimeStampToken, fromPem, sha256, TimeStampAuthority } from "../../src/pki/index.ts";
import { importSigningKey } from "../../src/pki/keys.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { expectRun, openssl, until } from "../support/auth-kit.ts";
import { fakeTime, register, SIS, sis, startServe, startWatch, type ServerProcess } from "../support/cli.ts";
import { dirsForFile } from "../support/sandbox.ts";
import { SAMPLE } from "../support/share.ts";

// Real processes, RSA key generation and argon2id on a shared two-core machine: allow for load.
setDefaultTimeout(90_000);

/**
 * The receiver's token check refuses a genTime more than 5 minutes ahead of it: server and receiver move together,
 * 400 days on: libfaketime preloaded into sis itself (fakeTime()). Not the `faketime` wrapper: it makes a
 * semaphore named by its pid and fails ("sem_open: File exists") where an earlier process of that pid left one in
 * /dev/shm, as processes preloading libfaketime do; the library itself skips an existing one.
 */
const LATER = fakeTime("+400d");

let server: ServerProcess;
const { data, homes, home } = dirsForFile("sis-e2e-long-term", () => server);
const out = (label: string) => join(homes, `out-${label}`);

async function post(user: string, name: string, file: string = SAMPLE.png): Promise<void> {
  expectRun(await sis(["post", "--home", home(user), "--name", name, file]), { code: 0, stderr: "" });
}

function get(user: string, ref: string, dir: string, env: Record<string, string> = {}) {
  return sis(["get", "--home", home(user), "-o", dir, ref], { env });
}

/** The row of OWNER/NAME in the server's database, opened beside the running server (WAL). */
function withDb<T>(task: (db: Database) => T): T {
  const db = new Database(join(data, DATA_FILES.database));
  try {
    return task(db);
  } finally {
    db.close();
  }
}

function rowOf(owner: string, name: string): { id: string; signature: Uint8Array; token: Uint8Array | null } {
  return withDb((db) => {
    const row = db
      .query<{ id: string; signature: Uint8Array; timestamp_token: Uint8Array | null }, [string, string]>(
        "SELECT i.id, i.signature, i.timestamp_token FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = ? AND i.name = ?",
      )
      .get(owner, name);
    if (!row) throw new Error(`no row for ${owner}/${name}`);
    return { id: row.id, signature: new Uint8Array(row.signature), token: row.timestamp_token && new Uint8Array(row.timestamp_token) };
  });
}

/** What a tampering server delivers: the row's token replaced (T4). */
function setToken(owner: string, name: string, token: Uint8Array | null): void {
  const { id } = rowOf(owner, name);
  withDb((db) => db.query("UPDATE images SET timestamp_token = ? WHERE id = ?").run(token, id));
}

/** Waits until the clock is in a later second than `t`: CRL dates and genTime keep whole seconds. */
async function nextSecond(t = Date.now()): Promise<void> {
  await until(() => Math.floor(Date.now() / 1000) > Math.floor(t / 1000), "the next second");
}

/** The saved .p7s through OpenSSL alone: `cms -verify` over the image, and its token through `ts -verify` (T5). */
async function opensslAccepts(dir: string, owner: string, name: string): Promise<void> {
  const image = join(dir, owner, name);
  const p7s = readFileSync(`${image}.p7s`);
  const caFile = join(data, DATA_FILES.caCert);
  expectRun(await openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", `${image}.p7s`, "-content", image, "-CAfile", caFile, "-purpose", "any", "-out", "/dev/null"]), {
    code: 0,
    stderr: /Verification successful/,
  });
  const token = extractTimeStampToken(p7s);
  expect(token).not.toBeNull();
  const tokenFile = join(homes, `${owner}-${name}.tsr`);
  writeFileSync(tokenFile, token!);
  const digest = Buffer.from(await sha256(signatureValueOf(p7s))).toString("hex");
  expectRun(await openssl(["ts", "-verify", "-digest", digest, "-in", tokenFile, "-token_in", "-CAfile", caFile]), { code: 0, stdout: /Verification: OK/ });
}

let foreignToken: Uint8Array;
let userToken: Uint8Array;

beforeAll(async () => {
  server = await startServe(data);
  const users = ["alice", "bob", "carol", "dave", "erin"];
  for (const r of await Promise.all(users.map((u) => register(server, u, home(u))))) expectRun(r, { code: 0, stderr: "" });
}, 120_000);

describe("now: every stored image is time-stamped, and the saved .p7s carries the token (T1, T5)", () => {
  test("the data directory has a TSA key (0600) and certificate issued by the CA for time-stamping (G10)", async () => {
    const caFile = join(data, DATA_FILES.caCert);
    const tsaFile = join(data, DATA_FILES.tsaCert);
    expect(statSync(join(data, DATA_FILES.tsaKey)).mode & 0o777).toBe(0o600);
    expectRun(await openssl(["verify", "-purpose", "timestampsign", "-CAfile", caFile, tsaFile]), { code: 0, stdout: /: OK\n$/ });
  });

  test("posted now, got now: verified; openssl cms -verify accepts the .p7s and openssl ts -verify its token", async () => {
    await post("alice", "beach.png");
    expect(rowOf("alice", "beach.png").token).not.toBeNull();
    const r = await get("bob", "alice/beach.png", out("now"));
    expectRun(r, { code: 0, stderr: "", stdout: /^saved alice\/beach\.png: signature by alice \(serial [0-9a-f]+\) verified\n/ });
    await opensslAccepts(out("now"), "alice", "beach.png");
  });
});

describe("a forged or swapped token delivered by a tampering server is refused with its own code (T4, V11)", () => {
  beforeAll(async () => {
    for (const name of ["swapped.png", "foreign.png", "user-tsa.png"]) await post("alice", name);
    // Another TSA key: a TSA of another CA, its certificate correct in every other way.
    const otherCa = await CertificateAuthority.load(await createCa());
    const otherTsa = await TimeStampAuthority.load(await otherCa.issueTsaCert());
    foreignToken = (await otherTsa.stampSignature(signatureValueOf(rowOf("alice", "foreign.png").signature))).der;
    // A user certificate of the pinned CA as TSA: alice's own key and certificate sign a token.
    const aliceCert = fromPem(readFileSync(join(home("alice"), "cert.pem"), "utf8"), "CERTIFICATE");
    const aliceKey = await importSigningKey(fromPem(readFileSync(join(home("alice"), "key.pem"), "utf8"), "PRIVATE KEY"));
    userToken = (await createTimeStampToken({ tsaCertDer: aliceCert, tsaKey: aliceKey, digest: await sha256(signatureValueOf(rowOf("alice", "user-tsa.png").signature)) })).der;
    setToken("alice", "swapped.png", rowOf("alice", "beach.png").token);
    setToken("alice", "foreign.png", foreignToken);
    setToken("alice", "user-tsa.png", userToken);
  });

  test.each([
    ["swapped.png", "another image's token", "TIMESTAMP_IMPRINT_MISMATCH"],
    ["foreign.png", "another TSA key", "TIMESTAMP_UNTRUSTED"],
    ["user-tsa.png", "a user certificate as TSA", "TIMESTAMP_NOT_TSA"],
  ])("%s (%s): judged as of now, and sis get names %s; the .p7s is saved without it", async (name, _label, code) => {
    const dir = out(`forged-${name}`);
    const r = await get("bob", `alice/${name}`, dir);
    expectRun(r, {
      code: 0,
      stdout: /verified\n/,
      stderr: new RegExp(`^sis: warning: alice/${name.replace(".", "\\.")}: the time-stamp was not used: ${code}: .+; the signer's certificate was judged as of now\\n$`),
    });
    expect(extractTimeStampToken(readFileSync(join(dir, "alice", `${name}.p7s`)))).toBeNull();
  });
  test("sis watch says it on the image's line, and saves the image verified as of now", async () => {
    await using watcher = startWatch(home("bob"), out("forged-watch"));
    const line = await watcher.waitFor(/ alice\/swapped\.png /);
    expect(line).toMatch(/saved alice\/swapped\.png \(#\d+\): signature by alice .* verified -> .+ \(the time-stamp was not used: TIMESTAMP_IMPRINT_MISMATCH: .+; judged as of now\)$/);
    expect(await watcher.waitFor(/ alice\/beach\.png /)).not.toContain("time-stamp");
  });
});

describe("revocation by date (T7, V13)", () => {
  test("revoked without reason: carol's earlier image verifies, she can post nothing new", async () => {
    await post("carol", "before.png");
    await nextSecond();
    expectRun(await sis(["admin", "revoke", "carol", "--data", data]), { code: 0, stderr: "", stdout: "revoked 1 certificate of carol\n" });
    expectRun(await get("bob", "carol/before.png", out("carol")), { code: 0, stderr: "", stdout: /^saved carol\/before\.png: signature by carol .* verified\n/ });
    const again = await sis(["post", "--home", home("carol"), "--name", "after.png", SAMPLE.png]);
    expectRun(again, { code: 3, stdout: "", stderr: /CERT_REVOKED/ });
  });

  test("revoked for key compromise since T: dave's image stamped before T verifies, the one after T exits 3; the CRL shows reason and invalidity date", async () => {
    await post("dave", "early.png");
    await nextSecond();
    const since = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000", "");
    await post("dave", "late.png");
    await nextSecond();
    const r = await sis(["admin", "revoke", "dave", "--data", data, "--reason", "keyCompromise", "--compromised-since", since]);
    expectRun(r, { code: 0, stderr: "", stdout: `revoked 1 certificate of dave (keyCompromise since ${new Date(since).toISOString()})\n` });

    expectRun(await get("bob", "dave/early.png", out("dave-early")), { code: 0, stderr: "" });
    const late = await get("bob", "dave/late.png", out("dave-late"));
    expectRun(late, { code: 3, stdout: "", stderr: /^sis: cannot get: the signer's certificate is not acceptable: certificate's key was compromised from .+, and this signature was time-stamped after that\n$/ });
    expect(existsSync(join(out("dave-late"), "dave", "late.png"))).toBe(false);

    const crl = await fetch(`http://127.0.0.1:${server.httpPort}/crl.pem`).then((res) => res.text());
    const text = (await openssl(["crl", "-noout", "-text"], { stdin: crl })).stdout;
    expect(text).toMatch(/X509v3 CRL Reason Code:\s*\n\s*Key Compromise/);
    expect(text).toMatch(/Invalidity Date:\s*\n\s*\w{3} +\d+ \d\d:\d\d:\d\d \d{4} GMT/);
  });

  test("a bad --reason or a --compromised-since in the future is a usage error (exit 2)", async () => {
    expectRun(await sis(["admin", "revoke", "erin", "--data", data, "--reason", "stolen"]), { code: 2, stdout: "", stderr: /--reason must be one of keyCompromise, affiliationChanged, superseded, cessationOfOperation, unspecified/ });
    expectRun(await sis(["admin", "revoke", "erin", "--data", data, "--compromised-since", "2999-01-01T00:00:00Z"]), { code: 2, stdout: "", stderr: /is in the future/ });
  });
});

describe("upgrade: a data directory from before the TSA (T3)", () => {
  test("at restart the TSA is made and images without a token are stamped while their signers' certificates are valid; the server logs how many", async () => {
    await post("erin", "old.png");
    await server.stop();
    // What an older sis left: no TSA files, no token on erin's row (and none on dave's revoked ones).
    rmSync(join(data, DATA_FILES.tsaCert));
    rmSync(join(data, DATA_FILES.tsaKey));
    setToken("erin", "old.png", null);
    setToken("dave", "late.png", null);
    server = await startServe(data);
    expect(existsSync(join(data, DATA_FILES.tsaKey))).toBe(true);
    await until(() => /time-stamped images stored before the server had a TSA stamped=1 skipped=1/.test(server.output()), "the upgrade's log line", 30_000);
    expect(rowOf("erin", "old.png").token).not.toBeNull();
    expect(rowOf("dave", "late.png").token).toBeNull();
    // A client enrolled earlier reaches the restarted server at its new port.
    rmSync(home("bob-upgraded"), { recursive: true, force: true });
    expectRun(await register(server, "bob", home("bob-upgraded"), "bob-password-1"), { code: 0, stderr: "" });
    expectRun(await get("bob-upgraded", "erin/old.png", out("upgraded")), { code: 0, stderr: "" });
    await opensslAccepts(out("upgraded"), "erin", "old.png");
  });
});

/**
 * `sis gallery` on a home with `env` (fakeTime(): libfaketime preloaded into the process itself,
 * so that stop() stops it — the faketime wrapper forks, and its child would outlive the test).
 */
async function startGallery(homeDir: string, dir: string, env: Record<string, string>) {
  const proc = Bun.spawn([SIS, "gallery", "--port", "0", "--home", homeDir, "-o", dir], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env } });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sis gallery exited: ${text}${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const m = /^gallery: (http:\/\/127\.0\.0\.1:\d+\/)\?token=([A-Za-z0-9_-]+) /.exec(text)!;
  const entry = await fetch(`${m[1]}?token=${m[2]}`, { redirect: "manual" });
  const cookie = entry.headers.get("set-cookie")!.split(";")[0]!;
  return { base: m[1]!, cookie, stop: async () => { proc.kill("SIGTERM"); await proc.exited; } };
}

describe("400 days later: the posters' certificates have expired (T4, T6, V12)", () => {
  beforeAll(async () => {
    await server.stop();
    // A long-lived process gets libfaketime in its own environment (see startGallery).
    server = await startServe(data, [], { env: fakeTime("+400d") });
    // Registration at +400 days issues bob a new certificate (his old one has expired): a new home.
    const r = await sis(["register", "--server", server.address, "--user", "bob", "--home", home("bob-later"), "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], { stdin: "bob-password-1\n", env: LATER });
    expectRun(r, { code: 0, stderr: "" });
  });

  test("the old image downloads and verifies with sis get; the .p7s passes openssl cms -verify and its token openssl ts -verify", async () => {
    const r = await get("bob-later", "alice/beach.png", out("later"), LATER);
    expectRun(r, { code: 0, stderr: "", stdout: /^saved alice\/beach\.png: signature by alice \(serial [0-9a-f]+\) verified\n/ });
    await opensslAccepts(out("later"), "alice", "beach.png");
  });

  test("the image stamped at the upgrade verifies; carol's, revoked without reason after it, too", async () => {
    expectRun(await get("bob-later", "erin/old.png", out("later"), LATER), { code: 0, stderr: "" });
    expectRun(await get("bob-later", "carol/before.png", out("later"), LATER), { code: 0, stderr: "" });
  });

  test("with a swapped token the old image is judged as of now: exit 3, expired, and the message names the token's code", async () => {
    const r = await get("bob-later", "alice/swapped.png", out("later-swapped"), LATER);
    expectRun(r, { code: 3, stdout: "", stderr: /^sis: cannot get: the signer's certificate is not acceptable: certificate has expired.*the time-stamp was not used: TIMESTAMP_IMPRINT_MISMATCH: .+\n$/ });
  });

  test("dave's image stamped after his key's compromise is still refused; the one before still verifies", async () => {
    expectRun(await get("bob-later", "dave/early.png", out("later"), LATER), { code: 0, stderr: "" });
    // At the upgrade its token was not renewed (a revoked signer is not stamped): judged as of now.
    expectRun(await get("bob-later", "dave/late.png", out("later"), LATER), { code: 3, stdout: "", stderr: /^sis: cannot get: the signer's certificate is not acceptable: / });
  });

  test("the gallery shows the image saved a year ago verified, and one saved without a token NOT verified (expired)", async () => {
    const dir = out("now");
    const g = await startGallery(home("bob-later"), dir, fakeTime("+400d"));
    try {
      // Saved 400 days ago with its token; and one of the forged images, saved without any.
      const swapped = out("forged-swapped.png");
      cpSync(join(swapped, "alice"), join(dir, "alice"), { recursive: true });
      const res = await fetch(`${g.base}api/images`, { headers: { cookie: g.cookie } });
      const { images } = (await res.json()) as { images: { owner: string; name: string; verified: boolean; reason: string | null; stampedAt?: string }[] };
      const byName = Object.fromEntries(images.map((i) => [i.name, i]));
      expect(byName["beach.png"]).toMatchObject({ verified: true, reason: null });
      expect(Date.parse(byName["beach.png"]!.stampedAt!)).toBeLessThan(Date.now() + 60_000);
      expect(byName["swapped.png"]).toMatchObject({ verified: false, reason: expect.stringMatching(/certificate has expired/) });
    } finally {
      await g.stop();
    }
  });
});
