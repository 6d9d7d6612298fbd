/** checkCsr(): proof of possession, key type and size, and hostile input, with OpenSSL-made requests. */
import { describe, expect, test } from "bun:test";
import { checkCsr } from "../../src/pki/csr.ts";
import { fromPem } from "../../src/pki/pem.ts";
import { failsWithCode, fixture, opensslCsr, opensslDer, sharedCa, tempDir } from "./helpers.ts";

const csrFixture = (name: string) => fromPem(fixture(name), "CERTIFICATE REQUEST");

describe("checkCsr()", () => {
  test("accepts a CSR made by openssl req and returns its public key and size", async () => {
    using dir = tempDir();
    const csrDer = opensslDer(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir.path}/k.pem`, "-subj", "/CN=x", "-outform", "DER"]);
    const spki = opensslDer(["pkey", "-in", `${dir.path}/k.pem`, "-pubout", "-outform", "DER"]);
    const checked = await checkCsr(csrDer);
    expect(checked.bits).toBe(2048);
    expect(Buffer.from(checked.publicKeyDer).equals(Buffer.from(spki))).toBe(true);
  });

  test("refuses the 1024-bit fixture as a weak key", async () => {
    await failsWithCode(() => checkCsr(csrFixture("weak-1024.csr")), "WEAK_KEY");
  });

  test("refuses the bad-pop fixture, whose signature does not match its key", async () => {
    await failsWithCode(() => checkCsr(csrFixture("bad-pop.csr")), "BAD_CSR");
  });

  test("refuses garbage bytes without leaking a parser error", async () => {
    const garbage = crypto.getRandomValues(new Uint8Array(600));
    await failsWithCode(() => checkCsr(garbage), "BAD_CSR");
    await failsWithCode(() => checkCsr(new Uint8Array(0)), "BAD_CSR");
    await failsWithCode(() => checkCsr(csrFixture("weak-1024.csr").subarray(0, 200)), "BAD_CSR");
  });

  test("refuses a 1 MiB input before parsing it", async () => {
    const big = new Uint8Array(1024 * 1024);
    big.set(opensslCsr());
    let message = "";
    try {
      await checkCsr(big);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("larger than 16384 bytes");
  });

  test("refuses a non-RSA key", async () => {
    using dir = tempDir();
    const csrDer = opensslDer(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir.path}/k.pem`, "-subj", "/CN=x", "-outform", "DER"]);
    await failsWithCode(() => checkCsr(csrDer), "BAD_CSR");
  });

  test("refuses a CSR signed with SHA-1", async () => {
    using dir = tempDir();
    const csrDer = opensslDer(["req", "-new", "-sha1", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir.path}/k.pem`, "-subj", "/CN=x", "-outform", "DER"]);
    await failsWithCode(() => checkCsr(csrDer), "BAD_CSR");
  });

  test("raises the floor when asked (minBits) but never lowers it below 2048", async () => {
    const csrDer = opensslCsr();
    await failsWithCode(() => checkCsr(csrDer, { minBits: 3072 }), "WEAK_KEY");
    await failsWithCode(() => checkCsr(csrFixture("weak-1024.csr"), { minBits: 512 }), "WEAK_KEY");
    await failsWithCode(() => checkCsr(csrDer, { maxBits: 2047 }), "BAD_CSR");
  });
});

describe("issueUserCert() with a bad CSR", () => {
  test("passes WEAK_KEY and BAD_CSR through from the CSR check", async () => {
    const { ca } = await sharedCa();
    await failsWithCode(() => ca.issueUserCert({ csrDer: csrFixture("weak-1024.csr"), username: "alice" }), "WEAK_KEY");
    await failsWithCode(() => ca.issueUserCert({ csrDer: csrFixture("bad-pop.csr"), username: "alice" }), "BAD_CSR");
  });
});
