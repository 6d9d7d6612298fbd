/** Tests of the P-256 key-agreement wrap (ENVELOPE.md W6..W10), judged by OpenSSL in both directions. */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ECDH_WRAPPED_SIZE, generateContentKey, importEcdhWrapKey, isEcdhWrapped, unwrapKeyEcdh, unwrapStorageKey, wrapKey, wrapKeyEcdh } from "../../src/crypto/index.ts";
import { makeFixtures, openssl } from "./openssl-fixtures.ts";
import { outcome } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

/** The DER SubjectPublicKeyInfo of a P-256 point is this prefix, then the 65-byte point. */
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
/** RFC 7518 4.6.2 OtherInfo for ECDH-ES+A256KW, no PartyUInfo or PartyVInfo (W8). */
const OTHER_INFO = Buffer.concat([Buffer.from([0, 0, 0, 14]), Buffer.from("ECDH-ES+A256KW"), Buffer.alloc(8), Buffer.from([0, 0, 1, 0])]).toString("hex");

function must(args: string[]): string {
  const r = openssl(args, fx.dir);
  if (!r.ok) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** OpenSSL's key-encryption key from an ECDH shared secret: its single-step KDF (SP 800-56C, the Concat KDF) with SHA-256. */
function opensslKek(zFile: string): string {
  const z = readFileSync(join(fx.dir, zFile)).toString("hex");
  return must(["kdf", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt", `hexkey:${z}`, "-kdfopt", `hexinfo:${OTHER_INFO}`, "SSKDF"]).trim().replaceAll(":", "");
}

test("wrapKeyEcdh() output is ECDH-ES + Concat KDF + AES-256 Key Wrap that openssl opens with the recipient's key (W7, W8)", async () => {
  const key = generateContentKey();
  const wrapped = await wrapKeyEcdh(key, await importEcdhWrapKey(fx.ec.certDer));
  expect(wrapped.length).toBe(ECDH_WRAPPED_SIZE);
  expect(isEcdhWrapped(wrapped)).toBe(true);
  writeFileSync(join(fx.dir, "eph.der"), Buffer.concat([P256_SPKI_PREFIX, wrapped.subarray(0, 65)]));
  writeFileSync(join(fx.dir, "kw.bin"), wrapped.subarray(65));
  must(["pkey", "-pubin", "-inform", "DER", "-in", "eph.der", "-out", "eph.pem"]);
  must(["pkeyutl", "-derive", "-inkey", fx.ec.keyPath, "-peerkey", "eph.pem", "-out", "z.bin"]);
  must(["enc", "-d", "-id-aes256-wrap", "-K", opensslKek("z.bin"), "-iv", "A6A6A6A6A6A6A6A6", "-in", "kw.bin", "-out", "cek.bin"]);
  expect(Buffer.from(readFileSync(join(fx.dir, "cek.bin"))).equals(Buffer.from(key))).toBe(true);
});

test("unwrapKeyEcdh() opens a key that openssl wrapped for the certificate with a fresh key of its own (W9)", async () => {
  const key = generateContentKey();
  writeFileSync(join(fx.dir, "plain.bin"), key);
  must(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ossl-eph.key"]);
  must(["pkey", "-in", "ossl-eph.key", "-pubout", "-outform", "DER", "-out", "ossl-eph.der"]);
  must(["x509", "-in", fx.ec.certPath, "-pubkey", "-noout", "-out", "ec-pub.pem"]);
  must(["pkeyutl", "-derive", "-inkey", "ossl-eph.key", "-peerkey", "ec-pub.pem", "-out", "z2.bin"]);
  must(["enc", "-id-aes256-wrap", "-K", opensslKek("z2.bin"), "-iv", "A6A6A6A6A6A6A6A6", "-in", "plain.bin", "-out", "kw2.bin"]);
  const point = readFileSync(join(fx.dir, "ossl-eph.der")).subarray(P256_SPKI_PREFIX.length);
  const wrapped = new Uint8Array(Buffer.concat([point, readFileSync(join(fx.dir, "kw2.bin"))]));
  expect(Buffer.from(await unwrapKeyEcdh(wrapped, fx.ec.privateKeyPkcs8)).equals(Buffer.from(key))).toBe(true);
});

test("each wrap has its own ephemeral key: two wraps of one key differ, both open (W7)", async () => {
  const key = generateContentKey();
  const recipient = await importEcdhWrapKey(fx.ec.certDer);
  const [a, b] = [await wrapKeyEcdh(key, recipient), await wrapKeyEcdh(key, recipient)];
  expect(Buffer.from(a.subarray(0, 65)).equals(Buffer.from(b.subarray(0, 65)))).toBe(false);
  for (const w of [a, b]) expect(Buffer.from(await unwrapKeyEcdh(w, fx.ec.privateKeyPkcs8)).equals(Buffer.from(key))).toBe(true);
});

test("a changed byte anywhere, another key, a truncated wrap or a point off the curve is BAD_KEY (W9)", async () => {
  const wrapped = await wrapKeyEcdh(generateContentKey(), await importEcdhWrapKey(fx.ec.certDer));
  for (const at of [1, 33, 64, 65, 80, ECDH_WRAPPED_SIZE - 1]) {
    const bad = wrapped.slice();
    bad[at]! ^= 0x01;
    expect(await outcome(unwrapKeyEcdh(bad, fx.ec.privateKeyPkcs8))).toBe("BAD_KEY");
  }
  expect(await outcome(unwrapKeyEcdh(wrapped.subarray(0, 104), fx.ec.privateKeyPkcs8))).toBe("BAD_KEY");
  must(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key"]);
  expect(await outcome(unwrapKeyEcdh(wrapped, await pkcs8Of("other.key")))).toBe("BAD_KEY");
  const offCurve = wrapped.slice();
  offCurve.fill(0x11, 1, 65);
  expect(await outcome(unwrapKeyEcdh(offCurve, fx.ec.privateKeyPkcs8))).toBe("BAD_KEY");
  expect(await outcome(unwrapKeyEcdh(wrapped, fx.alice.privateKeyPkcs8))).toBe("BAD_KEY");
});

async function pkcs8Of(keyFile: string): Promise<Uint8Array> {
  must(["pkcs8", "-topk8", "-nocrypt", "-in", keyFile, "-outform", "DER", "-out", `${keyFile}.p8`]);
  return new Uint8Array(readFileSync(join(fx.dir, `${keyFile}.p8`)));
}

test("importEcdhWrapKey() refuses an RSA certificate: BAD_KEY (W6)", async () => {
  expect(await outcome(importEcdhWrapKey(fx.alice.certDer))).toBe("BAD_KEY");
});

test("unwrapStorageKey() opens either kind of wrap with the matching storage key, and an ECDH one without a P-256 key is BAD_KEY (W10)", async () => {
  const key = generateContentKey();
  const keys = { rsaPkcs8: fx.alice.privateKeyPkcs8, ecdhPkcs8: fx.ec.privateKeyPkcs8 };
  const rsa = await wrapKey(key, fx.alice.certDer);
  const ec = await wrapKeyEcdh(key, await importEcdhWrapKey(fx.ec.certDer));
  expect(isEcdhWrapped(rsa)).toBe(false);
  for (const w of [rsa, ec]) expect(Buffer.from(await unwrapStorageKey(w, keys)).equals(Buffer.from(key))).toBe(true);
  expect(await outcome(unwrapStorageKey(ec, { rsaPkcs8: fx.alice.privateKeyPkcs8, ecdhPkcs8: null }))).toBe("BAD_KEY");
});
