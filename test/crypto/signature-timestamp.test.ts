/** The time-stamp token inside an image signature (ENVELOPE.md G8): openssl cms and openssl ts both still accept the file. */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addTimeStampToken, extractTimeStampToken, removeTimeStampToken, signatureValueOf, signImage, verifyImageSignature } from "../../src/crypto/index.ts";
import { TAG, at, children, parseDer, tlv } from "../../src/encoding/der.ts";
import { OID } from "../../src/crypto/cms-oids.ts";
import { importSigningKey } from "../../src/pki/keys.ts";
import { createTimeStampToken, sha256 } from "../../src/pki/tsa-token.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { makeFixtures, openssl } from "./openssl-fixtures.ts";
import { IMAGE, digestOf, sigOutcome } from "./sig-helpers.ts";
import { patternBytes } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

function must(args: string[]): void {
  const r = openssl(args, fx.dir);
  if (!r.ok) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

// A TSA certificate made by OpenSSL under the fixture CA, with the RFC 3161 profile.
writeFileSync(join(fx.dir, "tsa.ext"), "keyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
must(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=test TSA"]);
must(["x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", "tsa.ext", "-out", "tsa.pem"]);
must(["pkcs8", "-topk8", "-nocrypt", "-in", "tsa.key", "-outform", "DER", "-out", "tsa.p8"]);
must(["x509", "-in", "tsa.pem", "-outform", "DER", "-out", "tsa.der"]);
const tsaCertDer = new Uint8Array(readFileSync(join(fx.dir, "tsa.der")));
const tsaKey = await importSigningKey(new Uint8Array(readFileSync(join(fx.dir, "tsa.p8"))));

const image = patternBytes(4000, 7);
writeFileSync(join(fx.dir, "img.png"), image);
const cms = await signImage({ ...IMAGE, digest: digestOf(image), certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.privateKeyPkcs8 });
const token = (await createTimeStampToken({ tsaCertDer, tsaKey, digest: await sha256(signatureValueOf(cms)) })).der;
const stamped = addTimeStampToken(cms, token);

/** The SignerInfo's children of a signature. */
function signerInfo(bytes: Uint8Array) {
  const sd = children(at(children(at(children(parseDer(bytes)), 1)), 0));
  return children(at(children(sd[sd.length - 1]!, TAG.SET), 0));
}

test("openssl cms -verify still accepts the image's .p7s with the token attribute (G8)", () => {
  writeFileSync(join(fx.dir, "img.png.p7s"), stamped);
  const r = openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", "img.png.p7s", "-content", "img.png", "-CAfile", fx.caPath, "-purpose", "any", "-out", "/dev/null"], fx.dir);
  expect(r.stderr).toContain("Verification successful");
  expect(r.ok).toBe(true);
  const print = openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "img.png.p7s"], fx.dir).stdout;
  expect(print).toContain("id-smime-aa-timeStampToken");
});

test("the token, cut out of the .p7s where openssl asn1parse locates it, passes openssl ts -verify over the signature value (G8, G9)", () => {
  writeFileSync(join(fx.dir, "s.p7s"), stamped);
  const lines = openssl(["asn1parse", "-inform", "DER", "-in", "s.p7s"], fx.dir).stdout.split("\n");
  const oidLine = lines.findIndex((l) => l.includes("id-smime-aa-timeStampToken"));
  expect(oidLine).toBeGreaterThan(0);
  const m = /^\s*(\d+):d=\d+\s+hl=(\d+)\s+l=\s*(\d+)\s+cons: SEQUENCE/.exec(lines[oidLine + 2] ?? "");
  expect(m).not.toBeNull();
  const [off, hl, l] = [Number(m![1]), Number(m![2]), Number(m![3])];
  const cut = stamped.slice(off, off + hl + l);
  expect(Buffer.from(cut).equals(Buffer.from(token))).toBe(true);
  expect(Buffer.from(extractTimeStampToken(stamped)!).equals(Buffer.from(cut))).toBe(true);
  writeFileSync(join(fx.dir, "cut.tst"), cut);
  writeFileSync(join(fx.dir, "sigvalue.bin"), signatureValueOf(stamped));
  const r = openssl(["ts", "-verify", "-data", "sigvalue.bin", "-in", "cut.tst", "-token_in", "-CAfile", fx.caPath, "-untrusted", "tsa.pem"], fx.dir);
  expect(r.stdout).toContain("Verification: OK");
});

test("adding the token leaves the signed attributes, the signature value and the certificates byte for byte (G8)", () => {
  const before = signerInfo(cms);
  const after = signerInfo(stamped);
  expect(after.length).toBe(before.length + 1);
  for (let i = 0; i < before.length; i++) expect(Buffer.from(after[i]!.bytes).equals(Buffer.from(before[i]!.bytes))).toBe(true);
  expect(at(after, 6).tag).toBe(TAG.CONTEXT_1);
  expect(Buffer.from(signatureValueOf(stamped)).equals(Buffer.from(at(before, 5, TAG.OCTET_STRING).content))).toBe(true);
  const certs = (b: Uint8Array) => Buffer.from(children(at(children(parseDer(b)), 1))[0]!.bytes).indexOf(Buffer.from(fx.alice.certDer));
  expect(certs(stamped)).toBeGreaterThan(0);
  expect(certs(cms)).toBeGreaterThan(0);
});

test("verifyImageSignature() still accepts the stamped signature, and the extracted token verifies for its signature value (V2, V11)", async () => {
  expect(await sigOutcome(verifyImageSignature({ ...IMAGE, cms: stamped, digest: digestOf(image) }))).toBe("ok");
  const v = await verifyTimeStampToken({ tokenDer: extractTimeStampToken(stamped)!, signatureValue: signatureValueOf(stamped), caCertDer: fx.ca.certDer });
  expect(Math.abs(v.genTime.getTime() - Date.now())).toBeLessThan(60_000);
});

test("a signature without a token has none; adding again replaces the token instead of adding a second (G8)", async () => {
  expect(extractTimeStampToken(cms)).toBeNull();
  const second = (await createTimeStampToken({ tsaCertDer, tsaKey, digest: await sha256(signatureValueOf(cms)), serial: "77" })).der;
  const restamped = addTimeStampToken(stamped, second);
  expect(Buffer.from(extractTimeStampToken(restamped)!).equals(Buffer.from(second))).toBe(true);
  expect(signerInfo(restamped).length).toBe(7);
  expect(children(at(signerInfo(restamped), 6)).length).toBe(1);
});

test("other unsigned attributes are kept; two token attributes are MALFORMED", () => {
  const other = tlv(TAG.SEQUENCE, OID.contentHint, tlv(TAG.SET, tlv(TAG.SEQUENCE, OID.data)));
  const si = signerInfo(cms);
  const rebuild = (attrs: Uint8Array[]) => {
    const signer = tlv(TAG.SEQUENCE, ...si.map((t) => t.bytes), tlv(TAG.CONTEXT_1, ...attrs));
    const sd = children(at(children(at(children(parseDer(cms)), 1)), 0));
    return tlv(TAG.SEQUENCE, OID.signedData, tlv(TAG.CONTEXT_0, tlv(TAG.SEQUENCE, ...sd.slice(0, -1).map((t) => t.bytes), tlv(TAG.SET, signer))));
  };
  const withOther = addTimeStampToken(rebuild([other]), token);
  const kept = children(at(signerInfo(withOther), 6)).map((a) => Buffer.from(a.bytes).toString("hex"));
  expect(kept).toContain(Buffer.from(other).toString("hex"));
  expect(kept.length).toBe(2);
  expect(Buffer.from(extractTimeStampToken(withOther)!).equals(Buffer.from(token))).toBe(true);
  const attr = tlv(TAG.SEQUENCE, OID.signatureTimeStampToken, tlv(TAG.SET, token));
  expect(() => extractTimeStampToken(rebuild([attr, attr]))).toThrow("the time-stamp attribute must appear once with one token");
  // Removing the token keeps the other attribute: the result is the signature it was added to.
  expect(Buffer.from(removeTimeStampToken(withOther)).equals(Buffer.from(rebuild([other])))).toBe(true);
});

test("removeTimeStampToken() gives back the owner's signature byte for byte; one without a token is returned as it is (T5)", () => {
  expect(Buffer.from(removeTimeStampToken(stamped)).equals(Buffer.from(cms))).toBe(true);
  expect(removeTimeStampToken(cms)).toBe(cms);
  expect(extractTimeStampToken(removeTimeStampToken(stamped))).toBeNull();
});

test("garbage in place of a signature or a token is MALFORMED, and nothing over 16 KiB is produced (V1)", async () => {
  expect(await sigOutcome(Promise.resolve().then(() => extractTimeStampToken(patternBytes(100))))).toBe("MALFORMED");
  expect(await sigOutcome(Promise.resolve().then(() => addTimeStampToken(cms, patternBytes(100))))).toBe("MALFORMED");
  const huge = tlv(TAG.SEQUENCE, new Uint8Array(15_000));
  expect(await sigOutcome(Promise.resolve().then(() => addTimeStampToken(cms, huge)))).toBe("MALFORMED");
});
