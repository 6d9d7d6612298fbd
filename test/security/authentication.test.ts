/** SECURITY.md, authentication: who a connection is, decided by the server's own records (P3–P5). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RemoteError } from "../../src/client/errors.ts";
import { connectAs } from "../../src/client/session.ts";
import { createKeyAndCsr, toPem } from "../../src/pki/index.ts";
import { encodeMessage } from "../../src/protocol/index.ts";
import { certFile, openssl } from "../support/auth-kit.ts";
import {
  expectRefusal, expectStillServing, placeholderPost, raw, rawHello, registerUser, sandboxForFile, type Sandbox, type User,
} from "../support/security-kit.ts";

let sb: Sandbox;
let carol: User;
sandboxForFile(["carol"], (box, [carol_]) => { sb = box; carol = carol_; });

/** Presents `pair` and says HELLO: the refusal is the answer to the HELLO, then the connection closes (P5). */
async function refusedAtHello(pair: { certPem: string; keyPem: string }, code: string): Promise<void> {
  const client = await raw(sb, pair);
  client.write(encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "hostile" }));
  await expectRefusal(client, code, true);
  await expectStillServing(sb, carol);
}

describe("authentication", () => {
  test("no certificate, then requests that need one", async () => {
    const { client, hello } = await rawHello(sb);
    expect(hello.user).toBeNull();
    // Not fatal: an anonymous connection may still register on the same connection.
    client.write(encodeMessage({ type: "LIST" }));
    await expectRefusal(client, "AUTH_REQUIRED", false);
    client.write(encodeMessage({ type: "DOWNLOAD", owner: "carol", name: "x.png" }));
    await expectRefusal(client, "AUTH_REQUIRED", false);
    client.write(encodeMessage(placeholderPost({ name: "x.png" })));
    await expectRefusal(client, "AUTH_REQUIRED", false);
    client.close();
    await expectStillServing(sb, carol);
  });

  test("a certificate from a foreign CA", async () => {
    // CN=alice, the sis user profile, issued by certs/foreign-ca.pem: TLS shows its subject, the records do not know it.
    await refusedAtHello({ certPem: certFile("foreign-alice.pem"), keyPem: certFile("foreign-alice.key") }, "CERT_UNKNOWN");
  });

  test("a foreign certificate copying a registered user's serial and name", async () => {
    // Everything a certificate shows can be copied except the CA's signature: the exact-bytes check (P4) catches it.
    const csrPath = join(sb.root, "forge.csr");
    const certPath = join(sb.root, "forge.pem");
    const req = await openssl(["req", "-new", "-key", join(import.meta.dir, "../../certs/foreign-alice.key"), "-subj", "/CN=carol", "-out", csrPath]);
    expect(req.code).toBe(0);
    const sign = await openssl([
      "x509", "-req", "-in", csrPath, "-CA", join(import.meta.dir, "../../certs/foreign-ca.pem"), "-CAkey", join(import.meta.dir, "../../certs/foreign-ca.key"),
      "-set_serial", `0x${carol.creds.profile.serial}`, "-days", "30", "-out", certPath,
    ]);
    expect(sign.code).toBe(0);
    const forged = await Bun.file(certPath).text();
    const serial = await openssl(["x509", "-noout", "-serial", "-in", certPath]);
    expect(serial.stdout.trim().toLowerCase().replace(/^serial=0*/, "")).toBe(carol.creds.profile.serial.replace(/^0+/, ""));
    await refusedAtHello({ certPem: forged, keyPem: certFile("foreign-alice.key") }, "CERT_UNKNOWN");
  });

  test("a revoked certificate", async () => {
    const dave = await registerUser(sb, "dave");
    expect(await sb.server.context.store.revokeSerial(dave.creds.profile.serial, Date.now())).toBe(true);
    await refusedAtHello({ certPem: dave.creds.certPem, keyPem: dave.creds.keyPem }, "CERT_REVOKED");
    // The real client reports it as a refusal of trust (exit code 3), not as a crash.
    const error = await connectAs(dave.creds).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).code).toBe("CERT_REVOKED");
    expect((error as RemoteError).exitCode).toBe(3);
  });

  test("an expired certificate this server issued", async () => {
    // Issued by the server's own CA with a validity that ended yesterday, and recorded like any other.
    const { ctx, user } = { ctx: sb.server.context, user: (await sb.server.context.store.findUser("carol"))! };
    const { privateKeyPkcs8, csrDer } = await createKeyAndCsr({ username: "carol", bits: 2048 });
    const issued = await ctx.ca.issueUserCert({ csrDer, username: "carol", lifetimeDays: 30, now: new Date(Date.now() - 31 * 86_400_000) });
    await ctx.store.addCert({ serial: issued.serial, userId: user.id, der: issued.der, notBefore: issued.notBefore, notAfter: issued.notAfter });
    expect(issued.notAfter).toBeLessThan(Date.now());
    await refusedAtHello({ certPem: issued.pem, keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY") }, "CERT_EXPIRED");
  });

  test("an expired certificate from another CA", async () => {
    // certs/expired.pem: CN=alice, valid 2020 only, issued by certs/expired-ca.pem. Unknown here before it is expired.
    await refusedAtHello({ certPem: certFile("expired.pem"), keyPem: certFile("expired.key") }, "CERT_UNKNOWN");
  });

  test("the certificate of a deleted user", async () => {
    const erin = await registerUser(sb, "erin");
    expect(await sb.server.context.store.deleteUser("erin")).toBe(true);
    // Deleting a user revokes every certificate it had (and lists them in the CRL).
    await refusedAtHello({ certPem: erin.creds.certPem, keyPem: erin.creds.keyPem }, "CERT_REVOKED");
  });

  test("the hello of a refused certificate carrying a request", async () => {
    // A refused certificate gets nothing else done: a request pipelined after its HELLO is never handled.
    const client = await raw(sb, { certPem: certFile("foreign-alice.pem"), keyPem: certFile("foreign-alice.key") });
    const hello = encodeMessage({ type: "HELLO", protocol: "sis", version: 1, client: "hostile" });
    const list = encodeMessage({ type: "LIST" });
    client.write(new Uint8Array(Buffer.concat([hello, list])));
    await expectRefusal(client, "CERT_UNKNOWN", true);
    await expectStillServing(sb, carol);
  });
});
