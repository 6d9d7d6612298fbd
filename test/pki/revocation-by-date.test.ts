/** Revocation by date (ENVELOPE.md V12, V13): CRL reasons and invalidity dates, and certificates judged at a time-stamp. */
import { describe, expect, test } from "bun:test";
import { toPem } from "../../src/pki/pem.ts";
import { revocationRefusal, type RevocationEntry } from "../../src/pki/revocation.ts";
import { verifyCrl, verifyUserCert } from "../../src/pki/verify.ts";
import { failsWithCode, openssl, opensslDer, opensslCsr, sharedCa, tempDir } from "./helpers.ts";

const DAY = 86_400_000;
const T0 = Math.floor(Date.now() / 1000) * 1000;
const at = (days: number) => new Date(T0 + days * DAY);

describe("createCrl() with reasons and invalidity dates, judged by openssl crl -text", () => {
  test("writes reasonCode and invalidityDate entry extensions: openssl shows Key Compromise and the Invalidity Date", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({
      revoked: [
        { serial: "0a01", revokedAt: Date.parse("2026-05-01T10:00:00Z"), reason: "keyCompromise", invalidityDate: Date.parse("2026-04-20T08:30:00Z") },
        { serial: "0a02", revokedAt: Date.parse("2026-05-02T10:00:00Z"), reason: "superseded" },
        { serial: "0a03", revokedAt: Date.parse("2026-05-03T10:00:00Z"), reason: "unspecified" },
        { serial: "0a04", revokedAt: Date.parse("2026-05-04T10:00:00Z") },
      ],
      crlNumber: 11,
    });
    const r = openssl(["crl", "-noout", "-text"], { stdin: toPem(crl, "X509 CRL") });
    expect(r.code).toBe(0);
    const entry = (serial: string) => r.stdout.slice(r.stdout.indexOf(`Serial Number: ${serial}`)).split(/\n\s+Serial Number: /)[0]!;
    expect(entry("0A01")).toMatch(/X509v3 CRL Reason Code:\s*\n\s*Key Compromise/);
    expect(entry("0A01")).toMatch(/Invalidity Date:\s*\n\s*Apr 20 08:30:00 2026 GMT/);
    expect(entry("0A01")).toContain("Revocation Date: May  1 10:00:00 2026 GMT");
    expect(entry("0A02")).toMatch(/X509v3 CRL Reason Code:\s*\n\s*Superseded/);
    expect(entry("0A02")).not.toContain("Invalidity Date");
    // RFC 5280 5.3.1: unspecified is written as no reasonCode at all.
    expect(entry("0A03")).not.toContain("Reason Code");
    expect(entry("0A04")).not.toContain("Reason Code");
  });

  test("verifyCrl() returns each entry's revocation date, reason and invalidity date", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({
      revoked: [
        { serial: "0B:01", revokedAt: T0 - 1000, reason: "keyCompromise", invalidityDate: T0 - DAY },
        { serial: "0b02", revokedAt: T0 - 2000, reason: "unspecified" },
      ],
      crlNumber: 12,
    });
    const v = await verifyCrl(crl, ca.certDer);
    expect(v.entries.get("0b01")).toEqual({ serial: "0b01", revokedAt: T0 - 1000, reason: "keyCompromise", invalidityDate: T0 - DAY });
    expect(v.entries.get("0b02")).toEqual({ serial: "0b02", revokedAt: T0 - 2000 });
    expect([...v.revokedSerials].sort()).toEqual(["0b01", "0b02"]);
  });

  test("refuses an unknown reason and an invalidity date after the revocation", async () => {
    const { ca } = await sharedCa();
    await expect(ca.createCrl({ revoked: [{ serial: "01", revokedAt: T0, reason: "stolen" as never }], crlNumber: 1 })).rejects.toThrow(RangeError);
    await expect(ca.createCrl({ revoked: [{ serial: "01", revokedAt: T0, reason: "keyCompromise", invalidityDate: T0 + 1000 }], crlNumber: 1 })).rejects.toThrow(RangeError);
  });

  test("reads the reason and compromise time of a CRL openssl ca made, and refuses removeFromCRL outside a delta CRL", async () => {
    const { ca, files } = await sharedCa();
    const crlFrom = (index: string) => {
      using dir = tempDir();
      dir.write("index.txt", index);
      dir.write("crlnumber", "1000\n");
      dir.write("ca.cnf", "[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=1\n");
      const r = openssl(["ca", "-config", "ca.cnf", "-gencrl", "-cert", dir.write("ca.pem", files.certPem), "-keyfile", dir.write("ca.key", files.keyPem), "-out", "crl.pem"], { cwd: dir.path });
      expect(r.code).toBe(0);
      return opensslDer(["crl", "-in", `${dir.path}/crl.pem`, "-outform", "DER"]);
    };
    // openssl ca records a key compromise with its time as "keyTime" (what `openssl ca -revoke -crl_compromise` writes).
    const der = crlFrom("R\t301231235959Z\t260501100000Z,keyTime,20260420083000Z\t0C01\tunknown\t/CN=alice\n");
    expect((await verifyCrl(der, ca.certDer)).entries.get("0c01")).toEqual({
      serial: "0c01",
      revokedAt: Date.parse("2026-05-01T10:00:00Z"),
      reason: "keyCompromise",
      invalidityDate: Date.parse("2026-04-20T08:30:00Z"),
    });
    await failsWithCode(() => verifyCrl(crlFrom("R\t301231235959Z\t260501100000Z,removeFromCRL\t0C02\tunknown\t/CN=bob\n"), ca.certDer), "BAD_CRL");
  });
});

describe("revocationRefusal() (V13)", () => {
  const revokedAt = at(100).getTime();
  const cases: [string, RevocationEntry, Date | undefined, boolean][] = [
    ["no time-stamp: judged as now, refused", { serial: "1", revokedAt }, undefined, true],
    ["stamped before a plain revocation: stands", { serial: "1", revokedAt }, at(99), false],
    ["stamped at the revocation instant: refused", { serial: "1", revokedAt }, at(100), true],
    ["stamped after a plain revocation: refused", { serial: "1", revokedAt, reason: "affiliationChanged" }, at(101), true],
    ["stamped before a revocation for superseded: stands", { serial: "1", revokedAt, reason: "superseded" }, at(1), false],
    ["key compromise without invalidity date: everything refused", { serial: "1", revokedAt, reason: "keyCompromise" }, at(1), true],
    ["key compromise, stamped before the invalidity date: stands", { serial: "1", revokedAt, reason: "keyCompromise", invalidityDate: at(50).getTime() }, at(49), false],
    ["key compromise, stamped after the invalidity date: refused", { serial: "1", revokedAt, reason: "keyCompromise", invalidityDate: at(50).getTime() }, at(51), true],
    ["CA compromise is treated as key compromise", { serial: "1", revokedAt, reason: "cACompromise" }, at(1), true],
  ];
  for (const [what, entry, signedAt, refused] of cases) {
    test(what, () => {
      expect(revocationRefusal(entry, signedAt) !== null).toBe(refused);
    });
  }
});

describe("verifyUserCert() at a time-stamp (V12, V13)", () => {
  async function alice() {
    const { ca } = await sharedCa();
    return { ca, cert: await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice", now: new Date(T0) }) };
  }

  test("a certificate expired today is accepted as it was at the time-stamp, and refused at a time-stamp after its end", async () => {
    const { ca, cert } = await alice();
    const now = at(400);
    const crlDer = await ca.createCrl({ revoked: [], crlNumber: 20, now });
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now }), "EXPIRED");
    const v = await verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now, signedAt: at(1), expectedUser: "alice" });
    expect(v.username).toBe("alice");
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now, signedAt: at(366) }), "EXPIRED");
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, now, signedAt: new Date(cert.notBefore - 1000) }), "NOT_YET_VALID");
  });

  test("revoked without reason: earlier images stand, later ones and unstamped ones are refused; the CRL is judged fresh now, not at the stamp", async () => {
    const { ca, cert } = await alice();
    const now = at(150);
    const crlDer = await ca.createCrl({ revoked: [{ serial: cert.serial, revokedAt: at(100).getTime() }], crlNumber: 21, now });
    await verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now, signedAt: at(10) });
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now, signedAt: at(120) }), "REVOKED");
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now }), "REVOKED");
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer, now: at(170), signedAt: at(10) }), "STALE_CRL");
  });

  test("revoked for key compromise since T: images stamped after T are refused, earlier ones stand; without T all are refused", async () => {
    const { ca, cert } = await alice();
    const now = at(150);
    const since = await ca.createCrl({ revoked: [{ serial: cert.serial, revokedAt: at(100).getTime(), reason: "keyCompromise", invalidityDate: at(50).getTime() }], crlNumber: 22, now });
    await verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer: since, now, signedAt: at(40) });
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer: since, now, signedAt: at(60) }), "REVOKED");
    const all = await ca.createCrl({ revoked: [{ serial: cert.serial, revokedAt: at(100).getTime(), reason: "keyCompromise" }], crlNumber: 23, now });
    await failsWithCode(() => verifyUserCert({ certDer: cert.der, caCertDer: ca.certDer, crlDer: all, now, signedAt: at(1) }), "REVOKED");
  });
});
