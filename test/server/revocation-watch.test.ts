/** RevocationWatch (P5a): a revocation recorded by any handle ends that certificate's open sessions, and only theirs. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { CertificateAuthority, createCa, createKeyAndCsr, type IssuedCert } from "../../src/pki/index.ts";
import { ProtocolError } from "../../src/protocol/index.ts";
import type { Identity } from "../../src/server/identify.ts";
import { createLogger, silentLogger } from "../../src/server/logger.ts";
import { RevocationWatch, type WatchedSession } from "../../src/server/revocation-watch.ts";
import { SqliteStore } from "../../src/store/index.ts";
import { tempDir } from "../store/fixtures.ts";

// RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(30_000);

const dir = tempDir("sis-revocation-watch-");
const path = join(dir.path, "sis.db");
let store: SqliteStore;
let ca: CertificateAuthority;

/** An open session as the watch sees it, recording what it was failed with. */
class Watched implements WatchedSession {
  readonly address = "192.0.2.9";
  failed: string[] = [];
  constructor(readonly identity: Identity | null, public closed = false) {}
  fail(error: unknown): void {
    this.failed.push(error instanceof ProtocolError ? error.code : String(error));
    this.closed = true;
  }
}

async function enrol(username: string): Promise<{ cert: IssuedCert; identity: Identity }> {
  const { csrDer } = await createKeyAndCsr({ username, bits: 2048 });
  const cert = await ca.issueUserCert({ csrDer, username });
  const user = (await store.findUser(username)) ?? (await store.createUser(username, "$argon2id$unused"));
  await store.addCert({ serial: cert.serial, userId: user.id, der: cert.der, notBefore: cert.notBefore, notAfter: cert.notAfter });
  return { cert, identity: { userId: user.id, username, serial: cert.serial, certDer: cert.der } };
}

beforeAll(async () => {
  store = SqliteStore.open(path);
  ca = await CertificateAuthority.load(await createCa({ commonName: "sis CA revocation-watch-test" }));
}, 60_000);

afterAll(async () => {
  await store.close();
  dir[Symbol.dispose]();
});

describe("RevocationWatch", () => {
  test("nothing revoked: a check ends nothing", async () => {
    const { identity } = await enrol("ann");
    const s = new Watched(identity);
    const watch = new RevocationWatch({ store, log: silentLogger, refusalLog: silentLogger }, () => [s]);
    expect(await watch.check()).toBe(0);
    expect(s.failed).toEqual([]);
  });

  test("a revocation by another handle ends that certificate's sessions only; checks asked at once share one pass", async () => {
    const laptop = await enrol("ben");
    const phone = await enrol("ben");
    const other = await enrol("cat");
    const sessions = [new Watched(laptop.identity), new Watched(laptop.identity), new Watched(phone.identity), new Watched(other.identity), new Watched(null)];
    const watch = new RevocationWatch({ store, log: silentLogger, refusalLog: silentLogger }, () => sessions);
    const admin = SqliteStore.open(path);
    try {
      expect(await admin.revokeSerial(laptop.cert.serial, Date.now())).toBe(true);
    } finally {
      await admin.close();
    }
    const [a, b] = await Promise.all([watch.check(), watch.check()]);
    expect([a, b]).toEqual([2, 2]);
    expect(sessions.map((s) => s.failed)).toEqual([["CERT_REVOKED"], ["CERT_REVOKED"], [], [], []]);
    // The version has been seen: the next check ends nothing.
    expect(await watch.check()).toBe(0);
  });

  test("a session closed before its turn is not failed again", async () => {
    const { cert, identity } = await enrol("dee");
    const s = new Watched(identity, true);
    const watch = new RevocationWatch({ store, log: silentLogger, refusalLog: silentLogger }, () => [s]);
    await store.revokeSerial(cert.serial, Date.now());
    expect(await watch.check()).toBe(0);
    expect(s.failed).toEqual([]);
  });
});

describe("RevocationWatch and disabled accounts (M10)", () => {
  test("a disable by another handle ends every session of that user with ACCOUNT_DISABLED, and only theirs; enable lets new sessions in", async () => {
    const laptop = await enrol("dora");
    const phone = await enrol("dora");
    const other = await enrol("ed");
    const sessions = [new Watched(laptop.identity), new Watched(phone.identity), new Watched(other.identity)];
    const watch = new RevocationWatch({ store, log: silentLogger, refusalLog: silentLogger }, () => sessions);
    await watch.check();
    const admin = SqliteStore.open(path);
    try {
      expect(await admin.setUserDisabled("dora", true, Date.now())).toBe(true);
    } finally {
      await admin.close();
    }
    expect(await watch.check()).toBe(2);
    expect(sessions.map((s) => s.failed)).toEqual([["ACCOUNT_DISABLED"], ["ACCOUNT_DISABLED"], []]);
    expect(await store.setUserDisabled("dora", false, Date.now())).toBe(true);
    const again = new Watched(laptop.identity);
    sessions.push(again);
    expect(await watch.check()).toBe(0);
    expect(again.failed).toEqual([]);
  });
});

describe("RevocationWatch names what was revoked in the log (O11)", () => {
  test("each certificate revoked by another handle since the last check gets one line (serial, user, reason); a disable names none; the summary counts them", async () => {
    const lines: string[] = [];
    const log = createLogger((t) => lines.push(t), { level: "info", format: "json" });
    const gus = await enrol("gus");
    const gusPhone = await enrol("gus");
    const hal = await enrol("hal");
    // Revoked before the watch starts: known, never named.
    expect(await store.revokeSerial(hal.cert.serial, Date.now())).toBe(true);
    const watch = new RevocationWatch({ store, log, refusalLog: silentLogger }, () => []);
    await watch.check();
    lines.length = 0;
    const admin = SqliteStore.open(path);
    try {
      expect(await admin.revokeSerial(gus.cert.serial, Date.now(), { reason: "keyCompromise" })).toBe(true);
      expect(await admin.revokeSerial(gusPhone.cert.serial, Date.now())).toBe(true);
    } finally {
      await admin.close();
    }
    await watch.check();
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const named = entries.filter((e) => e.msg === "certificate revoked");
    expect(named.map((e) => ({ serial: e.serial, user: e.user, reason: e.reason })).sort((a, b) => String(a.serial).localeCompare(String(b.serial)))).toEqual(
      [
        { serial: gus.cert.serial, user: "gus", reason: "keyCompromise" },
        { serial: gusPhone.cert.serial, user: "gus", reason: "unspecified" },
      ].sort((a, b) => a.serial.localeCompare(b.serial)),
    );
    expect(entries.find((e) => e.msg === "revocations recorded; open sessions checked")).toMatchObject({ newlyRevoked: 2, sessionsEnded: 0 });

    // A disable bumps the version too: the summary line, and no certificate named.
    lines.length = 0;
    expect(await store.setUserDisabled("gus", true, Date.now())).toBe(true);
    await watch.check();
    const after = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(after.map((e) => e.msg)).toEqual(["revocations recorded; open sessions checked"]);
    expect(after[0]).toMatchObject({ newlyRevoked: 0 });
  });
});
