/** Serials, fingerprints and PEM: the small encodings every other layer relies on. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { fingerprint, normalizeFingerprint } from "../../src/pki/fingerprint.ts";
import { fromPem, toPem } from "../../src/pki/pem.ts";
import { normalizeSerial, randomSerial } from "../../src/pki/serial.ts";
import { failsWithCode, fixture, openssl, opensslDer } from "./helpers.ts";

describe("randomSerial()", () => {
  test("is 16 bytes of lower-case hex with a non-zero first byte and the top bit clear", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      const first = parseInt(s.slice(0, 2), 16);
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThan(0x80);
      expect(normalizeSerial(s)).toBe(s);
      seen.add(s);
    }
    expect(seen.size).toBe(2000);
  });
});

describe("normalizeSerial()", () => {
  test("strips colons, spaces, case and leading zero bytes", () => {
    expect(normalizeSerial("00:AB:01")).toBe("ab01");
    expect(normalizeSerial("ab 01")).toBe("ab01");
    expect(normalizeSerial("0000ff")).toBe("ff");
    expect(normalizeSerial("00")).toBe("00");
    expect(normalizeSerial("abc")).toBe("0abc");
  });

  test("is idempotent", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
      const once = normalizeSerial(Buffer.from(bytes).toString("hex"));
      expect(normalizeSerial(once)).toBe(once);
    }));
  });

  test("refuses text that is not hex", async () => {
    await failsWithCode(() => normalizeSerial("xyz"), "BAD_CERT");
    await failsWithCode(() => normalizeSerial(""), "BAD_CERT");
  });
});

describe("fingerprint()", () => {
  test("prints exactly what openssl x509 -fingerprint -sha256 prints", () => {
    const pem = fixture("foreign-ca.pem");
    const out = openssl(["x509", "-noout", "-fingerprint", "-sha256"], { stdin: pem }).stdout.trim();
    expect(`sha256 Fingerprint=${fingerprint(fromPem(pem, "CERTIFICATE"))}`).toBe(out);
  });
});

describe("normalizeFingerprint()", () => {
  const der = fromPem(fixture("foreign-ca.pem"), "CERTIFICATE");
  const hex = createHash("sha256").update(der).digest("hex");

  test("accepts openssl's output line, colons, spaces and either case", () => {
    const display = fingerprint(der);
    expect(normalizeFingerprint(`sha256 Fingerprint=${display}`)).toBe(hex);
    expect(normalizeFingerprint(`SHA256 Fingerprint=${display}\n`)).toBe(hex);
    expect(normalizeFingerprint(display.toLowerCase())).toBe(hex);
    expect(normalizeFingerprint(display.replaceAll(":", " "))).toBe(hex);
    expect(normalizeFingerprint(hex.toUpperCase())).toBe(hex);
  });

  test("round-trips every fingerprint() output", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      expect(normalizeFingerprint(fingerprint(bytes))).toBe(createHash("sha256").update(bytes).digest("hex"));
    }));
  });

  test("refuses truncated, over-long or non-hex input", async () => {
    await failsWithCode(() => normalizeFingerprint(hex.slice(2)), "BAD_CERT");
    await failsWithCode(() => normalizeFingerprint(hex + "00"), "BAD_CERT");
    await failsWithCode(() => normalizeFingerprint(hex.slice(1) + "g"), "BAD_CERT");
    await failsWithCode(() => normalizeFingerprint("sha1 Fingerprint=" + hex), "BAD_CERT");
  });
});

describe("toPem() and fromPem()", () => {
  test("write PEM that openssl reads back to the same DER", () => {
    const der = fromPem(fixture("foreign-alice.pem"), "CERTIFICATE");
    const back = opensslDer(["x509", "-outform", "DER"], { stdin: toPem(der, "CERTIFICATE") });
    expect(Buffer.from(back).equals(Buffer.from(der))).toBe(true);
    expect(toPem(der, "CERTIFICATE").split("\n").every((l) => l.length <= 64)).toBe(true);
  });

  test("fromPem() takes the first block with the asked label and skips others", () => {
    const cert = fixture("foreign-alice.pem");
    const key = fixture("foreign-alice.key");
    const bundle = `junk before\n${key}${cert}${fixture("foreign-ca.pem")}`;
    expect(Buffer.from(fromPem(bundle, "CERTIFICATE")).equals(Buffer.from(fromPem(cert, "CERTIFICATE")))).toBe(true);
    expect(fromPem(bundle, "PRIVATE KEY").length).toBeGreaterThan(1000);
  });

  test("fromPem() refuses a missing label and corrupt base64 with BAD_CERT", async () => {
    await failsWithCode(() => fromPem(fixture("foreign-alice.key"), "CERTIFICATE"), "BAD_CERT");
    await failsWithCode(() => fromPem("-----BEGIN CERTIFICATE-----\nAB$D\n-----END CERTIFICATE-----\n", "CERTIFICATE"), "BAD_CERT");
    await failsWithCode(() => fromPem("-----BEGIN CERTIFICATE-----\nMIIB\n", "CERTIFICATE"), "BAD_CERT");
  });
});
