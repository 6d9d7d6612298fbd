/** The building blocks together (ENVELOPE.md G8, V11..V13): a stamped image signature outlives its signer's certificate. */
import { expect, test } from "bun:test";
import { addTimeStampToken, extractTimeStampToken, signatureValueOf, signImage, verifyImageSignature } from "../../src/crypto/index.ts";
import { verifyTimeStampToken } from "../../src/pki/tsa-verify.ts";
import { verifyUserCert } from "../../src/pki/verify.ts";
import { failsWithCode, sharedCa } from "./helpers.ts";
import { sharedTsa, userWithKey } from "./tsa-fixtures.ts";

const DAY = 86_400_000;
const IMAGE = { owner: "dora", name: "beach.png", contentType: "image/png" };

/** What a receiver does with a downloaded signature: V1..V7, then V11 on the token, then V8 at the time V12 gives. */
async function receive(cms: Uint8Array, digest: Uint8Array, now: Date, crlDer: Uint8Array) {
  const { ca } = await sharedCa();
  const signer = await verifyImageSignature({ ...IMAGE, cms, digest });
  const token = extractTimeStampToken(cms);
  const stamp = token === null ? null : await verifyTimeStampToken({ tokenDer: token, signatureValue: signatureValueOf(cms), caCertDer: ca.certDer, crlDer, now });
  return verifyUserCert({ certDer: signer.signerCertDer, caCertDer: ca.certDer, crlDer, expectedUser: IMAGE.owner, now, ...(stamp && { signedAt: stamp.genTime }) });
}

test("posted today, received at +400 days: the stamped signature verifies, the unstamped one is EXPIRED (V12)", async () => {
  const { ca } = await sharedCa();
  const tsa = await sharedTsa();
  const dora = await userWithKey("dora");
  const digest = new Uint8Array(32).fill(7);
  const cms = await signImage({ ...IMAGE, digest, certDer: dora.issued.der, privateKeyPkcs8: dora.privateKeyPkcs8 });
  const stamped = addTimeStampToken(cms, (await tsa.tsa.stampSignature(signatureValueOf(cms))).der);

  const later = new Date(Date.now() + 400 * DAY);
  const crlDer = await ca.createCrl({ revoked: [], crlNumber: 30, now: later });
  expect((await receive(stamped, digest, later, crlDer)).username).toBe("dora");
  await failsWithCode(() => receive(cms, digest, later, crlDer), "EXPIRED");
});

test("revoked for key compromise since T: the image stamped before T verifies, the one stamped after T is REVOKED (V13)", async () => {
  const { ca } = await sharedCa();
  const tsa = await sharedTsa();
  const dora = await userWithKey("dora");
  const sign = async (genTime: Date, digest: Uint8Array) => {
    const cms = await signImage({ ...IMAGE, digest, certDer: dora.issued.der, privateKeyPkcs8: dora.privateKeyPkcs8 });
    return addTimeStampToken(cms, (await tsa.tsa.stampSignature(signatureValueOf(cms), { genTime })).der);
  };
  const early = await sign(new Date(Date.now() - 60_000), new Uint8Array(32).fill(1));
  const late = await sign(new Date(Date.now() + 20 * DAY), new Uint8Array(32).fill(2));
  const now = new Date(Date.now() + 30 * DAY);
  const crlDer = await ca.createCrl({
    revoked: [{ serial: dora.issued.serial, revokedAt: now.getTime() - DAY, reason: "keyCompromise", invalidityDate: Date.now() + 10 * DAY }],
    crlNumber: 31,
    now,
  });
  expect((await receive(early, new Uint8Array(32).fill(1), now, crlDer)).username).toBe("dora");
  await failsWithCode(() => receive(late, new Uint8Array(32).fill(2), now, crlDer), "REVOKED");
});
