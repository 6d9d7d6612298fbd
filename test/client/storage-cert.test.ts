import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrustError } from "../../src/client/errors.ts";
import { verifyStorageCert } from "../../src/client/storage-cert.ts";
import { CertificateAuthority, createCa, fromPem } from "../../src/pki/index.ts";

const ca = await CertificateAuthority.load(await createCa());
const other = await CertificateAuthority.load(await createCa());
const storage = fromPem((await ca.issueStorageCert()).certPem, "CERTIFICATE");
const foreign = fromPem((await other.issueStorageCert()).certPem, "CERTIFICATE");

describe("verifyStorageCert() (P11)", () => {
  test("accepts a storage certificate issued by the pinned CA and remembers it in the home", async () => {
    const home = mkdtempSync(join(tmpdir(), "sis-storage-"));
    try {
      await verifyStorageCert(storage, ca.certDer, home);
      const record = readFileSync(join(home, "storage-cert.verified"), "utf8");
      expect(record).toMatch(/^[0-9a-f]{64} [0-9a-f]{64}\t\d+\n$/);
      // Remembered: a second check passes from the record alone.
      await verifyStorageCert(storage, ca.certDer, home);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("refuses a storage certificate from another CA, and writes no record", async () => {
    const home = mkdtempSync(join(tmpdir(), "sis-storage-"));
    try {
      await expect(verifyStorageCert(foreign, ca.certDer, home)).rejects.toBeInstanceOf(TrustError);
      expect(existsSync(join(home, "storage-cert.verified"))).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("a record made for one certificate does not let another through", async () => {
    const home = mkdtempSync(join(tmpdir(), "sis-storage-"));
    try {
      await verifyStorageCert(storage, ca.certDer, home);
      await expect(verifyStorageCert(foreign, ca.certDer, home)).rejects.toBeInstanceOf(TrustError);
      // Nor does a record that names the right certificate but a past expiry.
      const [hashes] = readFileSync(join(home, "storage-cert.verified"), "utf8").split("\t");
      writeFileSync(join(home, "storage-cert.verified"), `${hashes!.split(" ")[0]} ${hashes!.split(" ")[1]}\t1\n`);
      await verifyStorageCert(storage, ca.certDer, home); // re-verified for real, record renewed
      expect(Number(readFileSync(join(home, "storage-cert.verified"), "utf8").split("\t")[1])).toBeGreaterThan(Date.now());
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
