/** ENVELOPE.md V8: a receiver never relies on a CRL it fetched more than CRL_MAX_AGE_MS earlier (a real server on 127.0.0.1). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CRL_MAX_AGE_MS, CrlSource } from "../../src/client/crl.ts";
import { connectAs } from "../../src/client/session.ts";
import { verifyCrl } from "../../src/pki/index.ts";
import { registerUser, startSandbox, type Sandbox, type User } from "../support/security-kit.ts";

// Real TLS, argon2id and RSA keys on a shared machine: generous time, no timing asserted (the clock is the test's).
setDefaultTimeout(60_000);

let sb: Sandbox;
let reader: User;
let signer: User;

beforeAll(async () => {
  sb = await startSandbox();
  [reader, signer] = await Promise.all([registerUser(sb, "rita"), registerUser(sb, "sam")]);
}, 60_000);
afterAll(() => sb[Symbol.asyncDispose](), 30_000);

const revoked = async (der: Uint8Array) => [...(await verifyCrl(der, reader.creds.caDer)).revokedSerials];

describe("CrlSource (V8)", () => {
  test("the copy is used while younger than 60 s; at 60 s the next image is judged against a CRL fetched again", async () => {
    expect(CRL_MAX_AGE_MS).toBe(60_000); // the figure ENVELOPE.md V8 states
    let clock = 1_000_000;
    const crl = new CrlSource(reader.creds.caDer, () => clock);
    const conn = await connectAs(reader.creds);
    try {
      const first = await crl.get(conn);
      expect(await revoked(first)).not.toContain(signer.creds.profile.serial);
      // Revoked on the server, as `sis admin revoke sam` does; the server re-signs its CRL at once (P26).
      expect(await sb.server.context.store.revokeUser("sam", Date.now())).toBe(1);
      clock += CRL_MAX_AGE_MS - 1;
      expect(Buffer.from(await crl.get(conn)).equals(Buffer.from(first))).toBe(true);
      clock += 1;
      const second = await crl.get(conn);
      expect(await revoked(second)).toContain(signer.creds.profile.serial);
    } finally {
      conn.close();
    }
  });
});
