/** A single node replaces its TSA certificate while running (PROTOCOL.md T1): due within 30 days of its end, never past the CA's. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { certInfo, fromPem, TimeStampAuthority, verifyTimeStampToken } from "../../src/pki/index.ts";
import { DATA_FILES, writePair } from "../../src/server/data-dir.ts";
import type { Logger } from "../../src/server/logger.ts";
import { startTsaRenewal } from "../../src/server/tsa-renewal.ts";
import { sharedCa } from "../pki/helpers.ts";
import { signatureValue } from "../pki/tsa-fixtures.ts";
import { tempDir } from "../store/fixtures.ts";

// RSA key generation on a shared two-core machine: allow for load.
setDefaultTimeout(60_000);

const DAY = 86_400_000;
/** One stand-in signature value for every token of the file (signatureValue() draws new bytes each call). */
const VALUE = signatureValue();
const dirs: { [Symbol.dispose](): void }[] = [];
afterAll(() => dirs.forEach((d) => d[Symbol.dispose]()));

function recordingLog(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A data directory holding a TSA certificate of `lifetimeDays`, and that TSA loaded. */
async function dataDirWithTsa(lifetimeDays: number) {
  const { ca } = await sharedCa();
  const dir = tempDir("sis-tsa-renewal-");
  dirs.push(dir);
  const files = await ca.issueTsaCert({ lifetimeDays });
  await writePair(dir.path, DATA_FILES.tsaCert, DATA_FILES.tsaKey, files);
  return { ca, dir: dir.path, tsa: await TimeStampAuthority.load(files) };
}

describe("startTsaRenewal() (T1 while running)", () => {
  test("a TSA certificate 20 days from its end is replaced at the next check: new tokens use the new one and verify, the old one's tokens still verify, both pairs on disk are the new one", async () => {
    const { ca, dir, tsa } = await dataDirWithTsa(20);
    const log = recordingLog();
    const stamper = startTsaRenewal({ dataDir: dir, ca, tsa, checkMs: 3_600_000, log });
    try {
      const before = await stamper.stampSignature(VALUE);
      expect(stamper.certDer).toEqual(tsa.certDer);
      await stamper.check();
      expect(stamper.certDer).not.toEqual(tsa.certDer);
      // Five years (the profile), not 20 days.
      expect(certInfo(stamper.certDer).notAfter - Date.now()).toBeGreaterThan(1800 * DAY);
      expect(fromPem(readFileSync(join(dir, DATA_FILES.tsaCert), "utf8"), "CERTIFICATE")).toEqual(stamper.certDer);
      expect(statSync(join(dir, DATA_FILES.tsaKey)).mode & 0o777).toBe(0o600);
      const after = await stamper.stampSignature(VALUE);
      const verified = await verifyTimeStampToken({ tokenDer: after.der, signatureValue: VALUE, caCertDer: ca.certDer });
      expect(verified.tsaCertDer).toEqual(stamper.certDer);
      const old = await verifyTimeStampToken({ tokenDer: before.der, signatureValue: VALUE, caCertDer: ca.certDer });
      expect(old.tsaCertDer).toEqual(tsa.certDer);
      expect(log.lines).toEqual([{ level: "info", message: "time-stamping certificate renewed; new images are stamped with it, tokens of the old one stay valid" }]);
      // Once: the new certificate is not due.
      await stamper.check();
      expect(log.lines).toHaveLength(1);
    } finally {
      stamper.stop();
    }
  });

  test("a TSA certificate with years left is kept; one that ends with the CA is kept too (a new one could last no longer)", async () => {
    const { ca, dir, tsa } = await dataDirWithTsa(1000);
    const log = recordingLog();
    const kept = startTsaRenewal({ dataDir: dir, ca, tsa, checkMs: 3_600_000, log });
    try {
      await kept.check();
      expect(kept.certDer).toEqual(tsa.certDer);
    } finally {
      kept.stop();
    }
    const caEnd = certInfo(ca.certDer).notAfter;
    const withCa = await dataDirWithTsa(Math.floor((caEnd - Date.now()) / DAY));
    const stamper = startTsaRenewal({ dataDir: withCa.dir, ca, tsa: withCa.tsa, checkMs: 3_600_000, log });
    try {
      // Ten days before the CA's end: within 30 days of the TSA's end, but a renewal would end as soon.
      await stamper.check(caEnd - 10 * DAY);
      expect(stamper.certDer).toEqual(withCa.tsa.certDer);
      expect(fromPem(readFileSync(join(withCa.dir, DATA_FILES.tsaCert), "utf8"), "CERTIFICATE")).toEqual(withCa.tsa.certDer);
    } finally {
      stamper.stop();
    }
    expect(log.lines).toEqual([]);
  });

  test("a renewal that cannot write is logged as an error; the current TSA keeps stamping and the next check tries again", async () => {
    const { ca, tsa } = await dataDirWithTsa(20);
    const log = recordingLog();
    const stamper = startTsaRenewal({ dataDir: "/nonexistent/sis-tsa-renewal", ca, tsa, checkMs: 3_600_000, log });
    try {
      await stamper.check();
      await stamper.check();
      expect(stamper.certDer).toEqual(tsa.certDer);
      expect(log.lines.map((l) => l.level)).toEqual(["error", "error"]);
      expect(log.lines[0]!.message).toMatch(/^cannot renew the time-stamping certificate; the current one is kept/);
      const token = await stamper.stampSignature(VALUE);
      expect((await verifyTimeStampToken({ tokenDer: token.der, signatureValue: VALUE, caCertDer: ca.certDer })).tsaCertDer).toEqual(tsa.certDer);
    } finally {
      stamper.stop();
    }
  });
});
