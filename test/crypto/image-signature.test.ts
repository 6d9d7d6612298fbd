/** Tests of signImage()/verifyImageSignature() against ENVELOPE.md sections 4 and 5 (G and V rules). */
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { MAX_SIGNATURE_SIZE, SignatureError, createImageDigest, signImage, verifyImageSignature } from "../../src/crypto/index.ts";
import { compareBytes } from "../../src/encoding/bytes.ts";
import { TAG, at, children, parseDer } from "../../src/encoding/der.ts";
import { rsaSign, replaceBytes, signedAttributesToSign, withSignature } from "./cms-surgery.ts";
import { makeFixtures } from "./openssl-fixtures.ts";
import { IMAGE, digestOf, sigOutcome } from "./sig-helpers.ts";
import { patternBytes } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

const image = patternBytes(5000, 3);
const digest = digestOf(image);
const when = new Date("2031-05-06T07:08:09.000Z");
const cms = await signImage({ ...IMAGE, digest, certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.privateKeyPkcs8, signingTime: when });
const verify = (over: Partial<Parameters<typeof verifyImageSignature>[0]> = {}) => verifyImageSignature({ ...IMAGE, cms, digest, ...over });

test("verifyImageSignature() accepts a signImage() signature and returns the signer certificate and signing time (G3, V7)", async () => {
  const result = await verify();
  expect(Buffer.from(result.signerCertDer).equals(Buffer.from(fx.alice.certDer))).toBe(true);
  expect(result.signingTime.toISOString()).toBe(when.toISOString());
});

test("createImageDigest() gives the same SHA-256 however the image is split (G2)", () => {
  const d = createImageDigest();
  for (let i = 0; i < image.length; i += 7) d.update(image.subarray(i, i + 7));
  expect(Buffer.from(d.digest()).equals(Buffer.from(digest))).toBe(true);
  expect(Buffer.from(digest).toString("hex")).toBe(new Bun.CryptoHasher("sha256").update(image).digest("hex"));
});

test("signImage() refuses a private key that does not match the certificate (G4)", async () => {
  const p = signImage({ ...IMAGE, digest, certDer: fx.alice.certDer, privateKeyPkcs8: fx.bob.privateKeyPkcs8 });
  expect(await sigOutcome(p)).toBe("BAD_SIGNATURE");
});

test("signImage() refuses fields that break H5/H6, so the binding string stays unambiguous (G6)", async () => {
  for (const bad of [{ name: "a\nb" }, { owner: "" }, { contentType: "image/png\n" }, { name: "x".repeat(256) }]) {
    const p = signImage({ ...IMAGE, ...bad, digest, certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.privateKeyPkcs8 });
    await expect(p).rejects.toThrow(RangeError);
  }
});

test("the signed attributes are contentType, messageDigest, signingTime and contentHint, DER-sorted, one value each (G5)", () => {
  const attrs = children(parseDer(signedAttributesToSign(cms)), TAG.SET);
  expect(attrs.length).toBe(4);
  for (let i = 1; i < attrs.length; i++) expect(compareBytes(attrs[i - 1]!.bytes, attrs[i]!.bytes)).toBeLessThan(0);
  const oids = attrs.map((a) => Buffer.from(at(children(a), 0).content).toString("hex"));
  expect(oids.sort()).toEqual(["2a864886f70d010903", "2a864886f70d010904", "2a864886f70d010905", "2a864886f70d0109100204"]);
});

test("the contentHint carries exactly 'sis-image/1' LF owner LF name LF contentType with content type id-data (G5, G6)", () => {
  const expected = Buffer.from("sis-image/1\nalice\nsunset.png\nimage/png");
  const hint = Buffer.concat([Buffer.from([0x30, expected.length + 2 + 11, 0x0c, expected.length]), expected, Buffer.from("06092a864886f70d010701", "hex")]);
  expect(Buffer.from(cms).indexOf(hint)).toBeGreaterThan(0);
});

test("signingTime is UTCTime until 2049 and GeneralizedTime from 2050, whole seconds, and round-trips (G5, V7)", async () => {
  for (const [iso, tag] of [["2049-12-31T23:59:59.999Z", TAG.UTC_TIME], ["2050-01-01T00:00:00.000Z", TAG.GENERALIZED_TIME]] as const) {
    const t = new Date(iso);
    const c = await signImage({ ...IMAGE, digest, certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.privateKeyPkcs8, signingTime: t });
    const timeAttr = children(parseDer(signedAttributesToSign(c))).find((a) => at(children(a), 0).content.at(-1) === 5)!;
    expect(at(children(at(children(timeAttr), 1)), 0).tag).toBe(tag);
    const back = await verifyImageSignature({ ...IMAGE, cms: c, digest });
    expect(back.signingTime.getTime()).toBe(Math.floor(t.getTime() / 1000) * 1000);
  }
});

test("verifyImageSignature() refuses a signature larger than 16 KiB before parsing it (V1)", async () => {
  expect(MAX_SIGNATURE_SIZE).toBe(16 * 1024);
  const big = new Uint8Array(16 * 1024 + 1);
  big.set(cms);
  expect(await sigOutcome(verify({ cms: big }))).toBe("MALFORMED");
});

test("verifyImageSignature() refuses truncated input, trailing bytes and garbage as MALFORMED (V2)", async () => {
  for (const cut of [0, 1, 10, cms.length - 1]) expect(await sigOutcome(verify({ cms: cms.subarray(0, cut) }))).toBe("MALFORMED");
  expect(await sigOutcome(verify({ cms: new Uint8Array(Buffer.concat([cms, Buffer.from([0])])) }))).toBe("MALFORMED");
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (junk) => {
      expect(["MALFORMED"]).toContain(await sigOutcome(verify({ cms: junk })));
    }),
    { numRuns: 200 },
  );
});

test("verifyImageSignature() never throws anything but a SignatureError when any single byte is changed (V2..V6)", async () => {
  for (let i = 0; i < cms.length; i += 3) {
    const t = cms.slice();
    t[i]! ^= 0x41;
    try {
      await verify({ cms: t });
    } catch (e) {
      expect(e).toBeInstanceOf(SignatureError);
    }
  }
});

test("verifyImageSignature() rejects a flipped signature bit and edited signed attributes (V4)", async () => {
  const sig = await rsaSign(fx.alice.privateKeyPkcs8, signedAttributesToSign(cms));
  const flipped = sig.slice();
  flipped[100]! ^= 1;
  expect(await sigOutcome(verify({ cms: withSignature(cms, flipped) }))).toBe("BAD_SIGNATURE");
  const renamed = replaceBytes(cms, Buffer.from("sunset.png"), Buffer.from("sunrise.pn"));
  expect(await sigOutcome(verify({ cms: renamed, name: "sunrise.pn" }))).toBe("BAD_SIGNATURE");
});

test("verifyImageSignature() rejects another user's signature placed under alice's certificate (V4)", async () => {
  const forged = withSignature(cms, await rsaSign(fx.bob.privateKeyPkcs8, signedAttributesToSign(cms)));
  expect(await sigOutcome(verify({ cms: forged }))).toBe("BAD_SIGNATURE");
});

test("verifyImageSignature() rejects other image bytes as DIGEST_MISMATCH (V5)", async () => {
  expect(await sigOutcome(verify({ digest: digestOf(patternBytes(5000, 4)) }))).toBe("DIGEST_MISMATCH");
  expect(await sigOutcome(verify({ digest: digest.subarray(0, 31) }))).toBe("DIGEST_MISMATCH");
});

test("verifyImageSignature() rejects a different owner, name or content type as BINDING_MISMATCH (V6)", async () => {
  for (const over of [{ owner: "bob" }, { name: "sunset.jpg" }, { contentType: "image/jpeg" }, { name: "bad\nname" }]) {
    expect(await sigOutcome(verify(over))).toBe("BINDING_MISMATCH");
  }
});

test("verifyImageSignature() rejects bob's valid signature that claims to be alice's image: the signer CN must be the owner (V6)", async () => {
  const byBob = await signImage({ ...IMAGE, owner: "alice", digest, certDer: fx.bob.certDer, privateKeyPkcs8: fx.bob.privateKeyPkcs8 });
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms: byBob, digest }))).toBe("BINDING_MISMATCH");
});

test("verifyImageSignature() does not judge the chain: a certificate the caller has not checked is still returned (V8)", async () => {
  // The CA's own certificate (CN "sis test CA", keyCertSign only) signs; the crypto layer
  // accepts the signature and leaves trust to src/pki, as V8 says.
  const caImage = { owner: "sis test CA", name: "x", contentType: "image/png" };
  const c = await signImage({ ...caImage, digest, certDer: fx.ca.certDer, privateKeyPkcs8: fx.ca.privateKeyPkcs8 });
  const r = await verifyImageSignature({ ...caImage, cms: c, digest });
  expect(Buffer.from(r.signerCertDer).equals(Buffer.from(fx.ca.certDer))).toBe(true);
});
