/** Hostile input: corrupted or malformed DER only ever yields a PkiError with a stable code, never a library error. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkCsr } from "../../src/pki/csr.ts";
import { PkiError } from "../../src/pki/errors.ts";
import { certInfo, verifyCrl, verifyUserCert } from "../../src/pki/verify.ts";
import { failsWithCode, openssl, opensslCsr, opensslDer, sharedCa, tempDir } from "./helpers.ts";

/** Runs `fn`; passes if it succeeds or fails with a PkiError, and returns the code seen. */
async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (err) {
    if (!(err instanceof PkiError)) throw new Error(`raw error leaked: ${String(err)}`);
    return err.code;
  }
}

const mutation = (len: number) =>
  fc.record({ at: fc.integer({ min: 0, max: len - 1 }), xor: fc.integer({ min: 1, max: 255 }), cut: fc.integer({ min: 0, max: len - 1 }) });

function mutate(der: Uint8Array, m: { at: number; xor: number; cut: number }, truncate: boolean): Uint8Array {
  const copy = new Uint8Array(truncate ? der.subarray(0, m.cut) : der);
  if (!truncate) copy[m.at]! ^= m.xor;
  return copy;
}

describe("corrupted input", () => {
  test("a flipped or truncated user certificate fails verifyUserCert and certInfo with a PkiError", async () => {
    const { ca } = await sharedCa();
    const { der } = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
    await fc.assert(
      fc.asyncProperty(mutation(der.length), fc.boolean(), async (m, truncate) => {
        const bad = mutate(der, m, truncate);
        expect(await outcome(() => verifyUserCert({ certDer: bad, caCertDer: ca.certDer, expectedUser: "alice" }))).not.toBe("ok");
        await outcome(() => certInfo(bad));
      }),
      { numRuns: 150 },
    );
  });

  test("a flipped or truncated CSR fails checkCsr with a PkiError", async () => {
    const csr = opensslCsr();
    await fc.assert(
      fc.asyncProperty(mutation(csr.length), fc.boolean(), async (m, truncate) => {
        expect(await outcome(() => checkCsr(mutate(csr, m, truncate)))).not.toBe("ok");
      }),
      { numRuns: 150 },
    );
  });

  test("a flipped or truncated CRL fails verifyCrl with a PkiError", async () => {
    const { ca } = await sharedCa();
    const crl = await ca.createCrl({ revoked: [{ serial: "0102", revokedAt: 0 }], crlNumber: 1 });
    await fc.assert(
      fc.asyncProperty(mutation(crl.length), fc.boolean(), async (m, truncate) => {
        expect(await outcome(() => verifyCrl(mutate(crl, m, truncate), ca.certDer))).not.toBe("ok");
      }),
      { numRuns: 150 },
    );
  });
});

describe("non-DER encodings", () => {
  test("a valid certificate with a trailing byte, a non-minimal length or an indefinite length is refused", async () => {
    const { ca } = await sharedCa();
    const { der } = await ca.issueUserCert({ csrDer: opensslCsr(), username: "alice" });
    const ok = () => verifyUserCert({ certDer: der, caCertDer: ca.certDer });
    expect((await ok()).username).toBe("alice");
    const trailing = new Uint8Array([...der, 0]);
    await failsWithCode(() => verifyUserCert({ certDer: trailing, caCertDer: ca.certDer }), "BAD_CERT");
    // 30 82 LL LL → 30 83 00 LL LL: same length, long form padded with a zero byte.
    const padded = new Uint8Array([0x30, 0x83, 0x00, ...der.subarray(2)]);
    await failsWithCode(() => verifyUserCert({ certDer: padded, caCertDer: ca.certDer }), "BAD_CERT");
    const indefinite = new Uint8Array([0x30, 0x80, ...der.subarray(4), 0x00, 0x00]);
    await failsWithCode(() => verifyUserCert({ certDer: indefinite, caCertDer: ca.certDer }), "BAD_CERT");
  });
});

describe("malformed extensions", () => {
  test("a CA-signed certificate whose keyUsage value is not a BIT STRING is refused as BAD_CERT", async () => {
    const { ca, files } = await sharedCa();
    using dir = tempDir();
    dir.write("ext.cnf", "2.5.29.15 = critical,DER:05:00\nextendedKeyUsage = clientAuth\n");
    dir.write("ca.pem", files.certPem);
    dir.write("ca.key", files.keyPem);
    const r = openssl(["x509", "-req", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x0a0b", "-days", "30", "-extfile", "ext.cnf", "-out", "u.pem", "-in", dir.write("u.csr", opensslCsrPem())], { cwd: dir.path });
    expect(r.code).toBe(0);
    const der = opensslDer(["x509", "-in", `${dir.path}/u.pem`, "-outform", "DER"]);
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer }), "BAD_CERT");
  });

  test("a certificate with an unknown critical extension is refused", async () => {
    const { ca, files } = await sharedCa();
    using dir = tempDir();
    dir.write("ext.cnf", "keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n1.3.6.1.4.1.55555.1 = critical,DER:05:00\n");
    dir.write("ca.pem", files.certPem);
    dir.write("ca.key", files.keyPem);
    const r = openssl(["x509", "-req", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x0a0c", "-days", "30", "-extfile", "ext.cnf", "-out", "u.pem", "-in", dir.write("u.csr", opensslCsrPem())], { cwd: dir.path });
    expect(r.code).toBe(0);
    const der = opensslDer(["x509", "-in", `${dir.path}/u.pem`, "-outform", "DER"]);
    await failsWithCode(() => verifyUserCert({ certDer: der, caCertDer: ca.certDer }), "BAD_CERT");
  });
});

function opensslCsrPem(): string {
  return Buffer.from(opensslDer(["req", "-inform", "DER"], { stdin: opensslCsr() })).toString();
}
