/**
 * Writes test/vectors/envelope.json and signature.json (run: bun test/vectors/make-vectors.ts).
 * Envelope vectors are deterministic (fixed keys, nonce prefix, plaintext rule). Signature
 * vectors use throwaway RSA keys generated here and stored in the file.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createCipheriv, createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHUNK_SIZE, TAG_SIZE, encodeHeader, sealStream, signImage, type EnvelopeHeader } from "../../src/crypto/index.ts";
import { rsaSign, replaceBytes, signedAttributesToSign, withSignature } from "../crypto/cms-surgery.ts";

x509.cryptoProvider.set(globalThis.crypto);
const OUT = import.meta.dir;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The documented plaintext rule: byte i = (7i + 3 + 101 * floor(i / 65536)) mod 256; chunks differ. */
export function plaintext(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (7 * i + 3 + 101 * Math.floor(i / CHUNK_SIZE)) & 0xff;
  return out;
}

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xff - i);
const PREFIX = Uint8Array.from([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6]);
const fields = { owner: "alice", name: "vector.png", contentType: "image/png" };
const header = (size: number, over: Partial<EnvelopeHeader> = {}): EnvelopeHeader => ({ ...fields, size, noncePrefix: PREFIX, ...over });

async function seal(h: EnvelopeHeader, data: Uint8Array, key = KEY): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  async function* one() {
    yield data;
  }
  for await (const c of sealStream(key, h, one())) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

/** Seals one chunk with an explicit counter and last flag: how a key holder would forge (S2). */
function sealChunkRaw(h: EnvelopeHeader, counter: number, last: boolean, data: Uint8Array): Uint8Array {
  const nonce = Buffer.concat([h.noncePrefix, Buffer.from([counter >>> 24, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255, last ? 1 : 0])]);
  const c = createCipheriv("aes-256-gcm", KEY, nonce);
  c.setAAD(encodeHeader(h));
  return new Uint8Array(Buffer.concat([c.update(data), c.final(), c.getAuthTag()]));
}

function chunks(ct: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < ct.length; at += CHUNK_SIZE + TAG_SIZE) out.push(ct.subarray(at, at + CHUNK_SIZE + TAG_SIZE));
  return out;
}

async function envelopeVectors() {
  const segments: Record<string, string> = {};
  const seg = (name: string, bytes: Uint8Array) => ((segments[name] = b64(bytes)), name);
  const vectors: object[] = [];
  const add = (name: string, rule: string, h: EnvelopeHeader | Uint8Array, ciphertext: string[], expected: string, over: { key?: Uint8Array; plain?: number } = {}) => {
    const headerBytes = h instanceof Uint8Array ? h : encodeHeader(h);
    const ok = expected === "ok" && over.plain !== undefined;
    vectors.push({
      id: name, rule, expected,
      key: hex(over.key ?? KEY),
      header: hex(headerBytes),
      ciphertext,
      ...(ok ? { plaintextSize: over.plain, plaintextSha256: sha256(plaintext(over.plain!)) } : {}),
    });
  };

  const small = header(100);
  const smallCt = await seal(small, plaintext(100));
  seg("small", smallCt);
  const big = header(2 * CHUNK_SIZE + 17);
  const [c0, c1, c2] = chunks(await seal(big, plaintext(big.size)));
  seg("big0", c0!), seg("big1", c1!), seg("big2", c2!);

  add("ok-empty", "S1", header(0), [seg("empty", await seal(header(0), new Uint8Array(0)))], "ok", { plain: 0 });
  add("ok-small", "S3", small, ["small"], "ok", { plain: 100 });
  add("ok-one-full-chunk", "S1", header(CHUNK_SIZE), [seg("full", await seal(header(CHUNK_SIZE), plaintext(CHUNK_SIZE)))], "ok", { plain: CHUNK_SIZE });
  add("ok-3-chunks", "S2", big, ["big0", "big1", "big2"], "ok", { plain: big.size });
  add("truncated-final-chunk-missing", "R4", big, ["big0", "big1"], "TRUNCATED");
  add("truncated-inside-a-chunk", "R4", small, [seg("small-cut", smallCt.subarray(0, 50))], "TRUNCATED");
  add("chunk-reordered", "S2", big, ["big1", "big0", "big2"], "CHUNK_AUTH_FAILED");
  add("chunk-duplicated", "S2", big, ["big0", "big0", "big1", "big2"], "CHUNK_AUTH_FAILED");
  add("chunk-dropped", "R4", big, ["big0", "big2"], "TRUNCATED");
  const early = header(CHUNK_SIZE + 10);
  add("final-flag-on-first-chunk", "S2", early, [seg("early-final", sealChunkRaw(early, 0, true, plaintext(CHUNK_SIZE))), seg("early-rest", sealChunkRaw(early, 1, true, plaintext(CHUNK_SIZE + 10).subarray(CHUNK_SIZE)))], "CHUNK_AUTH_FAILED");
  add("wrong-key", "R2", small, ["small"], "CHUNK_AUTH_FAILED", { key: OTHER_KEY });
  const flipped = smallCt.slice();
  flipped[flipped.length - 1]! ^= 0x01;
  add("tag-flipped", "R2", small, [seg("small-tag-flipped", flipped)], "CHUNK_AUTH_FAILED");
  add("trailing-data", "R5", small, ["small", seg("one-byte", new Uint8Array([0]))], "TRAILING_DATA");
  add("header-owner-swapped", "S3", header(100, { owner: "bob" }), ["small"], "CHUNK_AUTH_FAILED");
  add("header-name-swapped", "S3", header(100, { name: "other.png" }), ["small"], "CHUNK_AUTH_FAILED");
  add("header-content-type-swapped", "S3", header(100, { contentType: "image/gif" }), ["small"], "CHUNK_AUTH_FAILED");
  add("size-lied-in-header", "S3", header(99), ["small"], "CHUNK_AUTH_FAILED");
  add("size-lied-by-key-holder", "R4", header(200), [seg("sealed-short", sealChunkRaw(header(200), 0, true, plaintext(100)))], "TRUNCATED");
  const badVersion = encodeHeader(small);
  badVersion[6] = 2;
  add("header-unknown-version", "H2", badVersion, ["small"], "BAD_HEADER");
  add("key-not-32-bytes", "K3", small, ["small"], "BAD_KEY", { key: KEY.subarray(0, 16) });
  // R8, which error wins when several apply: the first failing check in the order header, key, then
  // the chunk stream in byte order.
  add("precedence-header-before-key", "R8", badVersion, ["small"], "BAD_HEADER", { key: KEY.subarray(0, 16) });
  add("precedence-key-before-stream", "R8", small, ["small-cut"], "BAD_KEY", { key: KEY.subarray(0, 16) });
  add("precedence-bad-chunk-before-truncation", "R8", big, ["big1", "big0"], "CHUNK_AUTH_FAILED");
  add("precedence-bad-final-chunk-before-trailing-data", "R8", small, ["small-tag-flipped", "one-byte"], "CHUNK_AUTH_FAILED");
  add("precedence-truncation-before-wrong-key", "R8", small, ["small-cut"], "TRUNCATED", { key: OTHER_KEY });
  return {
    description: "sis envelope vectors (ENVELOPE.md). ciphertext = concatenation of the named base64 segments. Plaintext rule: byte i = (7i + 3 + 101*floor(i/65536)) mod 256.",
    segments,
    vectors,
  };
}

async function identity(name: string, caKeys: CryptoKeyPair, caCert: x509.X509Certificate) {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "01" + hex(crypto.getRandomValues(new Uint8Array(8))),
    subject: `CN=${name}`, issuer: caCert.subject,
    notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2036-01-01T00:00:00Z"),
    publicKey: keys.publicKey, signingKey: caKeys.privateKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.emailProtection]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certDer: new Uint8Array(cert.rawData), privateKeyPkcs8: new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)) };
}

async function signatureVectors() {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: "CN=sis vector CA", keys: caKeys,
    notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2036-01-01T00:00:00Z"),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const alice = await identity("alice", caKeys, caCert);
  const bob = await identity("bob", caKeys, caCert);
  const image = plaintext(1000);
  const other = plaintext(1001).subarray(1);
  const digest = new Uint8Array(createHash("sha256").update(image).digest());
  const signingTime = new Date("2030-01-02T03:04:05Z");
  const sign = (who: typeof alice, over = {}) => signImage({ ...fields, digest, certDer: who.certDer, privateKeyPkcs8: who.privateKeyPkcs8, signingTime, ...over });
  const ok = await sign(alice);
  const vectors: object[] = [];
  const add = (name: string, rule: string, cms: Uint8Array, expected: string, over: Partial<typeof fields> & { image?: Uint8Array } = {}) =>
    vectors.push({ id: name, rule, expected, cms: b64(cms), ...fields, ...over, image: b64(over.image ?? image) });
  add("ok", "V7", ok, "ok");
  add("signature-over-other-bytes", "V5", ok, "DIGEST_MISMATCH", { image: other });
  add("signed-by-another-user", "V6", await sign(bob), "BINDING_MISMATCH");
  add("another-users-key-under-owners-certificate", "V4", withSignature(ok, await rsaSign(bob.privateKeyPkcs8, signedAttributesToSign(ok))), "BAD_SIGNATURE");
  add("owner-swapped", "V6", ok, "BINDING_MISMATCH", { owner: "bob" });
  add("name-swapped", "V6", ok, "BINDING_MISMATCH", { name: "other.png" });
  add("content-type-swapped", "V6", ok, "BINDING_MISMATCH", { contentType: "image/gif" });
  add("binding-edited-in-signed-attributes", "V4", replaceBytes(ok, Buffer.from("vector.png"), Buffer.from("vectur.png")), "BAD_SIGNATURE", { name: "vectur.png" });
  add("truncated", "V2", ok.subarray(0, ok.length - 1), "MALFORMED");
  return {
    description: "sis image-signature vectors (ENVELOPE.md sections 4-5). Throwaway keys; verify each with verifyImageSignature(cms, sha256(image), owner, name, contentType).",
    caCert: b64(new Uint8Array(caCert.rawData)),
    identities: { alice: { certificate: b64(alice.certDer), privateKeyPkcs8: b64(alice.privateKeyPkcs8) }, bob: { certificate: b64(bob.certDer), privateKeyPkcs8: b64(bob.privateKeyPkcs8) } },
    vectors,
  };
}

if (import.meta.main) {
  writeFileSync(join(OUT, "envelope.json"), JSON.stringify(await envelopeVectors(), null, 1) + "\n");
  writeFileSync(join(OUT, "signature.json"), JSON.stringify(await signatureVectors(), null, 1) + "\n");
  console.log("wrote envelope.json and signature.json");
}
