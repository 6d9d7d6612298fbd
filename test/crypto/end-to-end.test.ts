/** The whole receiver flow of ENVELOPE.md section 5 in one place: seal, sign, wrap; unwrap, open, verify. */
import { afterAll, expect, test } from "bun:test";
import {
  createImageDigest,
  decodeHeader,
  encodeHeader,
  generateContentKey,
  newHeader,
  openStream,
  sealStream,
  signImage,
  unwrapKey,
  verifyImageSignature,
  wrapKey,
} from "../../src/crypto/index.ts";
import { makeFixtures } from "./openssl-fixtures.ts";
import { sigOutcome } from "./sig-helpers.ts";
import { collect, outcome, patternBytes, pieces } from "./stream-helpers.ts";

const fx = makeFixtures();
afterAll(() => fx[Symbol.dispose]());

/** What the owner's client sends: header, ciphertext, signature, key wrapped for the server (here: bob). */
async function post(image: Uint8Array, fields = { owner: "alice", name: "cat.png", contentType: "image/png" }) {
  const key = generateContentKey();
  const header = newHeader({ ...fields, size: image.length });
  const digest = createImageDigest();
  digest.update(image);
  const signature = await signImage({ ...fields, digest: digest.digest(), certDer: fx.alice.certDer, privateKeyPkcs8: fx.alice.privateKeyPkcs8 });
  const ciphertext = (await collect(sealStream(key, header, pieces(image, [10_000])))).bytes;
  return { key, headerBytes: encodeHeader(header), ciphertext, signature, wrapped: await wrapKey(key, fx.bob.certDer) };
}

/** The receiver: unwrap, open while digesting, then verify against the header's own fields (V9). */
async function receive(p: { headerBytes: Uint8Array; ciphertext: Uint8Array; signature: Uint8Array; wrapped: Uint8Array }) {
  const key = await unwrapKey(p.wrapped, fx.bob.privateKeyPkcs8);
  const header = decodeHeader(p.headerBytes);
  const digest = createImageDigest();
  const parts: Uint8Array[] = [];
  for await (const piece of openStream(key, p.headerBytes, pieces(p.ciphertext, [65_552]))) {
    digest.update(piece);
    parts.push(piece);
  }
  await verifyImageSignature({ cms: p.signature, digest: digest.digest(), owner: header.owner, name: header.name, contentType: header.contentType });
  return new Uint8Array(Buffer.concat(parts));
}

test("an image posted by alice arrives intact and verified through unwrap, open and verify (section 5, V9)", async () => {
  const image = patternBytes(3 * 65536 + 5, 11);
  const got = await receive(await post(image));
  expect(Buffer.from(got).equals(Buffer.from(image))).toBe(true);
});

test("a server that re-encrypts alice's image under a header naming another image is caught by the signature binding (V9)", async () => {
  const image = patternBytes(1000, 12);
  const genuine = await post(image);
  // The server knows the key: it can build a consistent envelope with any header.
  const header = { ...decodeHeader(genuine.headerBytes), name: "renamed.png" };
  const ciphertext = (await collect(sealStream(genuine.key, header, pieces(image)))).bytes;
  const forged = { ...genuine, headerBytes: encodeHeader(header), ciphertext };
  expect(await sigOutcome(receive(forged))).toBe("BINDING_MISMATCH");
});

test("a content key is bound to one envelope: a chunk of another envelope under the same key does not open (K2, S3)", async () => {
  const key = generateContentKey();
  const a = newHeader({ owner: "alice", name: "a.png", contentType: "image/png", size: 10 });
  const b = newHeader({ owner: "alice", name: "a.png", contentType: "image/png", size: 10 });
  const ctA = (await collect(sealStream(key, a, pieces(patternBytes(10))))).bytes;
  expect(await outcome(collect(openStream(key, encodeHeader(b), pieces(ctA))))).toBe("CHUNK_AUTH_FAILED");
});
