/** Runs every vector in test/vectors/ and asserts its declared outcome (ENVELOPE.md rules cited per vector). */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import envelopeFile from "../vectors/envelope.json";
import signatureFile from "../vectors/signature.json";
import { decodeHeader, openStream, sealStream, verifyImageSignature } from "../../src/crypto/index.ts";
import { plaintext } from "../vectors/make-vectors.ts";
import { openssl } from "./openssl-fixtures.ts";
import { sigOutcome } from "./sig-helpers.ts";
import { collect, outcome, pieces } from "./stream-helpers.ts";

const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const segments = envelopeFile.segments as Record<string, string>;

interface EnvelopeVector {
  id: string;
  rule: string;
  expected: string;
  key: string;
  header: string;
  ciphertext: string[];
  plaintextSize?: number;
  plaintextSha256?: string;
}
const envelopeVectors = envelopeFile.vectors as EnvelopeVector[];

function ciphertextOf(names: string[]): Uint8Array {
  return new Uint8Array(Buffer.concat(names.map((n) => fromB64(segments[n] ?? ""))));
}

for (const v of envelopeVectors) {
  test(`envelope vector ${v.id}: openStream() gives ${v.expected} (${v.rule})`, async () => {
    const ct = ciphertextOf(v.ciphertext);
    for (const sizes of [[ct.length || 1], [1009]]) {
      const run = collect(openStream(fromHex(v.key), fromHex(v.header), pieces(ct, sizes)));
      expect(await outcome(run)).toBe(v.expected);
      if (v.expected === "ok") {
        const out = await run;
        expect(out.bytes.length).toBe(v.plaintextSize ?? -1);
        expect(sha256(out.bytes)).toBe(v.plaintextSha256 ?? "missing");
      }
    }
  });
  const plainSize = v.plaintextSize;
  if (v.expected === "ok" && plainSize !== undefined) {
    test(`envelope vector ${v.id}: sealStream() reproduces the ciphertext exactly (S2, S3, S4)`, async () => {
      const header = decodeHeader(fromHex(v.header));
      const sealed = await collect(sealStream(fromHex(v.key), header, pieces(plaintext(plainSize), [4097])));
      expect(sha256(sealed.bytes)).toBe(sha256(ciphertextOf(v.ciphertext)));
    });
  }
}

for (const v of signatureFile.vectors) {
  test(`signature vector ${v.id}: verifyImageSignature() gives ${v.expected} (${v.rule})`, async () => {
    const digest = new Uint8Array(createHash("sha256").update(fromB64(v.image)).digest());
    const p = verifyImageSignature({ cms: fromB64(v.cms), digest, owner: v.owner, name: v.name, contentType: v.contentType });
    expect(await sigOutcome(p)).toBe(v.expected);
  });
}

test("signature vector ok also verifies with openssl cms against the vector CA (G1, G7)", () => {
  const v = signatureFile.vectors.find((x) => x.id === "ok")!;
  const dir = mkdtempSync(join(tmpdir(), "sis-vectors-"));
  try {
    writeFileSync(join(dir, "image"), fromB64(v.image));
    writeFileSync(join(dir, "image.p7s"), fromB64(v.cms));
    writeFileSync(join(dir, "ca.der"), fromB64(signatureFile.caCert));
    expect(openssl(["x509", "-inform", "DER", "-in", "ca.der", "-out", "ca.pem"], dir).ok).toBe(true);
    const r = openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", "image.p7s", "-content", "image", "-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null"], dir);
    expect(r.stderr).toContain("Verification successful");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
