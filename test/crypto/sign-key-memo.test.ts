/** signImage() keeps an imported signing key per PKCS#8 buffer (ENVELOPE.md section 9), and only while the buffer holds those bytes. */
import { afterAll, expect, test } from "bun:test";
import { signImage, verifyImageSignature } from "../../src/crypto/index.ts";
import { makeFixtures } from "./openssl-fixtures.ts";
import { IMAGE, digestOf, sigOutcome } from "./sig-helpers.ts";
import { patternBytes } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

test("a remembered key signs again; the same buffer holding another key is imported afresh (G4 refuses it under alice's certificate), and refilled with alice's it signs for her again", async () => {
  const digest = digestOf(patternBytes(3000, 7));
  const alice = new Uint8Array(fx.alice.privateKeyPkcs8);
  const bob = new Uint8Array(fx.bob.privateKeyPkcs8);
  const shared = new Uint8Array(Math.max(alice.length, bob.length));
  const holding = (pkcs8: Uint8Array) => {
    shared.fill(0);
    shared.set(pkcs8);
    return shared.subarray(0, pkcs8.length);
  };
  const key = holding(alice);
  const sign = (privateKeyPkcs8: Uint8Array) => signImage({ ...IMAGE, digest, certDer: fx.alice.certDer, privateKeyPkcs8 });
  for (let i = 0; i < 2; i++) expect((await verifyImageSignature({ ...IMAGE, digest, cms: await sign(key) })).signerCertDer.length).toBeGreaterThan(0);
  // Bob's key written over alice's in the same buffer object: a stale memo would still sign as alice.
  key.set(bob.subarray(0, key.length));
  // (BAD_SIGNATURE when the two PKCS#8 are as long, else the import fails): never a signature.
  expect(await sign(key).then(() => "ok", () => "refused")).toBe("refused");
  key.set(alice);
  expect((await verifyImageSignature({ ...IMAGE, digest, cms: await sign(key) })).signerCertDer.length).toBeGreaterThan(0);
  // Bob's key in its own buffer under alice's certificate: the G4 check refuses it.
  expect(await sigOutcome(sign(bob))).toBe("BAD_SIGNATURE");
});
