/** Tests of wrapKey()/unwrapKey() against ENVELOPE.md section 6 (W rules), judged by OpenSSL. */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateContentKey, unwrapKey, wrapKey } from "../../src/crypto/index.ts";
import { makeFixtures, openssl } from "./openssl-fixtures.ts";
import { outcome } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

const OAEP_SHA256 = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"];


test("wrapKey() output is RSA-OAEP with SHA-256 and MGF1-SHA-256 that openssl pkeyutl decrypts (W1, W3)", async () => {
  const key = generateContentKey();
  const wrapped = await wrapKey(key, fx.alice.certDer);
  expect(wrapped.length).toBe(256);
  writeFileSync(join(fx.dir, "wrapped.bin"), wrapped);
  const r = openssl(["pkeyutl", "-decrypt", "-inkey", fx.alice.keyPath, "-in", "wrapped.bin", "-out", "unwrapped.bin", ...OAEP_SHA256], fx.dir);
  expect(r.stderr).toBe("");
  expect(r.ok).toBe(true);
  expect(Buffer.from(readFileSync(join(fx.dir, "unwrapped.bin"))).equals(Buffer.from(key))).toBe(true);
});

test("unwrapKey() opens a key that openssl wrapped with OAEP-SHA256 for the certificate (W1, W2)", async () => {
  const key = generateContentKey();
  writeFileSync(join(fx.dir, "plain-key.bin"), key);
  const r = openssl(["pkeyutl", "-encrypt", "-certin", "-inkey", fx.alice.certPath, "-in", "plain-key.bin", "-out", "ossl-wrapped.bin", ...OAEP_SHA256], fx.dir);
  expect(r.ok).toBe(true);
  const unwrapped = await unwrapKey(new Uint8Array(readFileSync(join(fx.dir, "ossl-wrapped.bin"))), fx.alice.privateKeyPkcs8);
  expect(Buffer.from(unwrapped).equals(Buffer.from(key))).toBe(true);
});

test("unwrapKey() rejects a key wrapped with OAEP-SHA1 (the OpenSSL default): only SHA-256 is accepted (W1, W4)", async () => {
  writeFileSync(join(fx.dir, "k.bin"), generateContentKey());
  expect(openssl(["pkeyutl", "-encrypt", "-certin", "-inkey", fx.alice.certPath, "-in", "k.bin", "-out", "sha1.bin", "-pkeyopt", "rsa_padding_mode:oaep"], fx.dir).ok).toBe(true);
  expect(await outcome(unwrapKey(new Uint8Array(readFileSync(join(fx.dir, "sha1.bin"))), fx.alice.privateKeyPkcs8))).toBe("BAD_KEY");
});

test("wrapKey() refuses a recipient key that is not RSA or shorter than 2048 bits, and a certificate that does not parse (W2)", async () => {
  const key = generateContentKey();
  expect(await outcome(wrapKey(key, fx.ec.certDer))).toBe("BAD_KEY");
  expect(await outcome(wrapKey(key, fx.weak.certDer))).toBe("BAD_KEY");
  expect(await outcome(wrapKey(key, fx.alice.certDer.subarray(0, 100)))).toBe("BAD_KEY");
  expect(await outcome(wrapKey(key, new Uint8Array(0)))).toBe("BAD_KEY");
});

test("wrapKey() only wraps a 32-byte content key (W3, K3)", async () => {
  expect(await outcome(wrapKey(new Uint8Array(16), fx.alice.certDer))).toBe("BAD_KEY");
  expect(await outcome(wrapKey(new Uint8Array(33), fx.alice.certDer))).toBe("BAD_KEY");
});

test("unwrapKey() fails with BAD_KEY for another recipient's key, a tampered wrap, a non-RSA key, or a 16-byte payload (W4)", async () => {
  const wrapped = await wrapKey(generateContentKey(), fx.alice.certDer);
  expect(await outcome(unwrapKey(wrapped, fx.bob.privateKeyPkcs8))).toBe("BAD_KEY");
  const tampered = wrapped.slice();
  tampered[10]! ^= 1;
  expect(await outcome(unwrapKey(tampered, fx.alice.privateKeyPkcs8))).toBe("BAD_KEY");
  expect(await outcome(unwrapKey(wrapped, fx.ec.privateKeyPkcs8))).toBe("BAD_KEY");
  expect(await outcome(unwrapKey(wrapped, new Uint8Array(10)))).toBe("BAD_KEY");
  writeFileSync(join(fx.dir, "short.bin"), new Uint8Array(16));
  openssl(["pkeyutl", "-encrypt", "-certin", "-inkey", fx.alice.certPath, "-in", "short.bin", "-out", "short-wrapped.bin", ...OAEP_SHA256], fx.dir);
  expect(await outcome(unwrapKey(new Uint8Array(readFileSync(join(fx.dir, "short-wrapped.bin"))), fx.alice.privateKeyPkcs8))).toBe("BAD_KEY");
});

test("every unwrap failure carries the same message, so it reveals nothing about why (W4)", async () => {
  const messages = new Set<string>();
  const wrapped = await wrapKey(generateContentKey(), fx.alice.certDer);
  for (const [w, k] of [[wrapped, fx.bob.privateKeyPkcs8], [wrapped.subarray(1), fx.alice.privateKeyPkcs8], [wrapped, new Uint8Array(3)]] as const) {
    try {
      await unwrapKey(w, k);
    } catch (e) {
      messages.add((e as Error).message);
    }
  }
  expect([...messages]).toEqual(["wrapped key does not unwrap"]);
});

test("wrapKey() wraps for any RSA certificate regardless of its key usage or issuer: policy is the caller's (W5)", async () => {
  // The CA certificate has keyUsage keyCertSign only; the wrap layer does not judge that.
  const key = generateContentKey();
  const wrapped = await wrapKey(key, fx.ca.certDer);
  expect(Buffer.from(await unwrapKey(wrapped, fx.ca.privateKeyPkcs8)).equals(Buffer.from(key))).toBe(true);
});

test("unwrapKey() remembers an imported private key only while its buffer still holds those bytes: wiped, the same buffer opens nothing; refilled, it opens again (W4)", async () => {
  const key = generateContentKey();
  const forAlice = await wrapKey(key, fx.alice.certDer);
  const forBob = await wrapKey(key, fx.bob.certDer);
  const alicePkcs8 = new Uint8Array(fx.alice.privateKeyPkcs8);
  const bobPkcs8 = new Uint8Array(fx.bob.privateKeyPkcs8);
  const shared = new Uint8Array(Math.max(alicePkcs8.length, bobPkcs8.length));
  const holding = (pkcs8: Uint8Array) => {
    shared.fill(0);
    shared.set(pkcs8);
    return shared.subarray(0, pkcs8.length);
  };
  const asAlice = holding(alicePkcs8);
  expect(Buffer.from(await unwrapKey(forAlice, asAlice)).equals(Buffer.from(key))).toBe(true);
  expect(Buffer.from(await unwrapKey(forAlice, asAlice)).equals(Buffer.from(key))).toBe(true); // remembered
  expect(await outcome(unwrapKey(forBob, asAlice))).toBe("BAD_KEY");
  asAlice.fill(0);
  expect(await outcome(unwrapKey(forAlice, asAlice))).toBe("BAD_KEY");
  asAlice.set(alicePkcs8); // the same buffer object with its key back: imported afresh, it opens again
  expect(Buffer.from(await unwrapKey(forAlice, asAlice)).equals(Buffer.from(key))).toBe(true);
  // Another buffer with bob's key is its own entry.
  expect(Buffer.from(await unwrapKey(forBob, bobPkcs8)).equals(Buffer.from(key))).toBe(true);
  expect(await outcome(unwrapKey(forAlice, bobPkcs8))).toBe("BAD_KEY");
});
