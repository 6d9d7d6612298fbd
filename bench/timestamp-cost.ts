/** Per-operation cost of RFC 3161 time-stamps (ENVELOPE.md G9, V11, V12): make, verify, judge the signer at genTime, and the parts of verify. */
import { CertificateAuthority, createCa } from "../src/pki/ca.ts";
import { createKeyAndCsr } from "../src/pki/client-key.ts";
import { verifyCrl } from "../src/pki/crl-verify.ts";
import { parseCert } from "../src/pki/parse.ts";
import { fromPem } from "../src/pki/pem.ts";
import { verifySignerAtTimeStamp } from "../src/pki/signer-at-time.ts";
import { TimeStampAuthority } from "../src/pki/tsa-token.ts";
import { verifyTimeStampToken } from "../src/pki/tsa-verify.ts";
import { verifyUserCert } from "../src/pki/verify.ts";
import { assertIssuedBy } from "../src/pki/chain.ts";
import * as pkijs from "pkijs";

const N = Number(process.env.SIS_TS_ITERATIONS ?? 50);

async function time(label: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn();
  const ms = (performance.now() - t0) / N;
  console.log(`${label.padEnd(44)} ${ms.toFixed(3)} ms/op`);
  return ms;
}

const caFiles = await createCa({ commonName: "bench CA" });
const ca = await CertificateAuthority.load(caFiles);
const tsa = await TimeStampAuthority.load(await ca.issueTsaCert());
const { csrDer } = await createKeyAndCsr({ username: "alice", bits: 2048 });
const user = await ca.issueUserCert({ csrDer, username: "alice" });
const crlDer = await ca.createCrl({ revoked: [], crlNumber: 1 });
const signatureValue = crypto.getRandomValues(new Uint8Array(384));
const token = (await tsa.stampSignature(signatureValue)).der;
const userDer = fromPem(user.pem, "CERTIFICATE");

console.log(`timestamp-cost: ${N} iterations each, token ${token.length} bytes`);
await time("stampSignature (server, per image)", () => tsa.stampSignature(signatureValue));
await time("verifyTimeStampToken (with CRL)", () => verifyTimeStampToken({ tokenDer: token, signatureValue, caCertDer: ca.certDer, crlDer }));
await time("verifyTimeStampToken (no CRL)", () => verifyTimeStampToken({ tokenDer: token, signatureValue, caCertDer: ca.certDer }));
await time("verifySignerAtTimeStamp (with CRL)", () =>
  verifySignerAtTimeStamp({ signerCertDer: userDer, caCertDer: ca.certDer, crlDer, expectedUser: "alice", tokenDer: token, signatureValue }),
);
await time("verifyUserCert (signer, with CRL)", () => verifyUserCert({ certDer: userDer, caCertDer: ca.certDer, crlDer, expectedUser: "alice" }));
console.log("parts:");
await time("  pkijs ContentInfo+SignedData of the token", () => new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(token)).content }));
await time("  parseCert (TSA certificate)", () => parseCert(tsa.certDer));
await time("  parseCert (CA certificate)", () => parseCert(ca.certDer));
const tsaCert = parseCert(tsa.certDer);
const caCert = parseCert(ca.certDer);
await time("  assertIssuedBy (TSA cert by CA)", () => assertIssuedBy(tsaCert, caCert));
await time("  importKey (TSA public key)", () =>
  crypto.subtle.importKey("spki", new Uint8Array(tsaCert.publicKey.rawData), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]),
);
await time("  verifyCrl (empty CRL)", () => verifyCrl(crlDer, ca.certDer));
