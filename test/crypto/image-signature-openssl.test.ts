/** OpenSSL is the judge: signatures sis makes verify with `openssl cms`, and OpenSSL's own are read strictly. */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signImage, verifyImageSignature } from "../../src/crypto/index.ts";
import { makeFixtures, openssl } from "./openssl-fixtures.ts";
import { IMAGE, digestOf, sigOutcome } from "./sig-helpers.ts";
import { patternBytes } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

function opensslVerify(p7s: string, content: string) {
  return openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", content, "-CAfile", fx.caPath, "-purpose", "any", "-out", "/dev/null"], fx.dir);
}

async function signFile(file: string, bytes: Uint8Array, who = fx.alice, owner = "alice"): Promise<Uint8Array> {
  writeFileSync(join(fx.dir, file), bytes);
  const cms = await signImage({ ...IMAGE, owner, digest: digestOf(bytes), certDer: who.certDer, privateKeyPkcs8: who.privateKeyPkcs8 });
  writeFileSync(join(fx.dir, `${file}.p7s`), cms);
  return cms;
}

test("openssl cms -verify accepts a signImage() signature over the image, with the CA file (G1, G3, G5, G7)", async () => {
  await signFile("small.png", patternBytes(1000));
  const r = opensslVerify("small.png.p7s", "small.png");
  expect(r.stderr).toContain("Verification successful");
  expect(r.ok).toBe(true);
});

test("openssl cms -verify accepts the signature of a multi-chunk image digested in pieces (G1, G2)", async () => {
  await signFile("big.png", patternBytes(3 * 65536 + 17, 5));
  expect(opensslVerify("big.png.p7s", "big.png").ok).toBe(true);
});

test("openssl cms -verify rejects the signature with other content: it is over the plaintext bytes (G1)", async () => {
  await signFile("a.png", patternBytes(500, 1));
  writeFileSync(join(fx.dir, "b.png"), patternBytes(500, 2));
  const r = opensslVerify("a.png.p7s", "b.png");
  expect(r.ok).toBe(false);
  expect(r.stderr).toContain("content verify error");
});

test("openssl parses the signed attributes: content type, message digest, signing time and the contentHint binding (G5, G6)", async () => {
  await signFile("attrs.png", patternBytes(10));
  const r = openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "attrs.png.p7s"], fx.dir);
  expect(r.ok).toBe(true);
  for (const s of ["contentType", "messageDigest", "signingTime", "id-smime-aa-contentHint", "sis-image/1", "sunset.png", "eContent: <ABSENT>", "sha256WithRSAEncryption"]) {
    expect(r.stdout).toContain(s);
  }
});

test("verifyImageSignature() reads a detached signature made by openssl and reports the missing binding (V2, V6)", async () => {
  const image = patternBytes(300);
  writeFileSync(join(fx.dir, "o.png"), image);
  const r = openssl(["cms", "-sign", "-binary", "-md", "sha256", "-in", "o.png", "-signer", fx.alice.certPath, "-inkey", fx.alice.keyPath, "-outform", "DER", "-out", "o.p7s"], fx.dir);
  expect(r.ok).toBe(true);
  const cms = new Uint8Array(readFileSync(join(fx.dir, "o.p7s")));
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms, digest: digestOf(image) }))).toBe("BINDING_MISMATCH");
  // ... and its digest and signature checks are real: other content is DIGEST_MISMATCH.
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms, digest: digestOf(patternBytes(300, 9)) }))).toBe("DIGEST_MISMATCH");
});

test("verifyImageSignature() finds the signer by subject key identifier when openssl signs with -keyid (V3)", async () => {
  const image = patternBytes(64);
  writeFileSync(join(fx.dir, "k.png"), image);
  expect(openssl(["cms", "-sign", "-binary", "-keyid", "-md", "sha256", "-in", "k.png", "-signer", fx.alice.certPath, "-inkey", fx.alice.keyPath, "-outform", "DER", "-out", "k.p7s"], fx.dir).ok).toBe(true);
  const cms = new Uint8Array(readFileSync(join(fx.dir, "k.p7s")));
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms, digest: digestOf(image) }))).toBe("BINDING_MISMATCH");
});

const opensslCases: [string, string[], string][] = [
  ["an attached (non-detached) signature", ["-nodetach", "-md", "sha256"], "MALFORMED"],
  ["a SHA-1 digest", ["-md", "sha1"], "MALFORMED"],
  ["no embedded certificate", ["-nocerts", "-md", "sha256"], "MALFORMED"],
  ["no signed attributes", ["-noattr", "-md", "sha256"], "MALFORMED"],
  ["indefinite-length BER (-stream)", ["-stream", "-md", "sha256"], "MALFORMED"],
  ["two signers", ["-md", "sha256", "-signer", "BOB_CERT", "-inkey", "BOB_KEY"], "MALFORMED"],
];

for (const [what, args, expected] of opensslCases) {
  test(`verifyImageSignature() refuses an openssl signature with ${what} (V2, V3)`, async () => {
    const image = patternBytes(100);
    writeFileSync(join(fx.dir, "c.png"), image);
    const real = args.map((a) => (a === "BOB_CERT" ? fx.bob.certPath : a === "BOB_KEY" ? fx.bob.keyPath : a));
    const r = openssl(["cms", "-sign", "-binary", "-in", "c.png", "-signer", fx.alice.certPath, "-inkey", fx.alice.keyPath, ...real, "-outform", "DER", "-out", "c.p7s"], fx.dir);
    expect(r.stderr).toBe("");
    const cms = new Uint8Array(readFileSync(join(fx.dir, "c.p7s")));
    expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms, digest: digestOf(image) }))).toBe(expected);
  });
}

test("verifyImageSignature() refuses an openssl signature by an EC key: sis signatures are RSA (V3)", async () => {
  const image = patternBytes(100);
  writeFileSync(join(fx.dir, "e.png"), image);
  expect(openssl(["cms", "-sign", "-binary", "-md", "sha256", "-in", "e.png", "-signer", fx.ec.certPath, "-inkey", fx.ec.keyPath, "-outform", "DER", "-out", "e.p7s"], fx.dir).ok).toBe(true);
  const cms = new Uint8Array(readFileSync(join(fx.dir, "e.p7s")));
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, owner: "ec", cms, digest: digestOf(image) }))).toBe("MALFORMED");
});
