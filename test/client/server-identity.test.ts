/** What the client accepts as the server (P2, P29): a certificate of the pinned CA for `localhost` with serverAuth; real TLS on 127.0.0.1. */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../../src/client/connection.ts";
import { TrustError } from "../../src/client/errors.ts";
import { createKeyAndCsr, toPem } from "../../src/pki/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { startServer, type RunningServer } from "../../src/app/serve.ts";

setDefaultTimeout(60_000);

let dir: string;
let server: RunningServer;
let caPem: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sis-server-identity-"));
  server = await startServer({ dataDir: dir, host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: 0, log: silentLogger, version: "test", limits: {}, openRegistration: true });
  caPem = toPem(server.context.ca.certDer, "CERTIFICATE");
}, 60_000);

afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("server identity (P2, P29)", () => {
  test("the real server's certificate is accepted when dialled by IP address: the client checks the name localhost, not the host it dialled (P29)", async () => {
    const conn = await Connection.open({ host: "127.0.0.1", port: server.port, caPem });
    expect(conn.hello.type).toBe("HELLO");
    conn.close();
  });

  test("a certificate this CA issued to a user named 'localhost' is refused as a server certificate: it lacks serverAuth (P29)", async () => {
    // CN=localhost, chained to the pinned CA, but a user profile (clientAuth, emailProtection, no subjectAltName).
    const { csrDer, privateKeyPkcs8 } = await createKeyAndCsr({ username: "localhost", bits: 2048 });
    const issued = await server.context.ca.issueUserCert({ csrDer, username: "localhost", lifetimeDays: 1 });
    const impostor = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: toPem(issued.der, "CERTIFICATE"), key: toPem(privateKeyPkcs8, "PRIVATE KEY") },
      socket: { data() {} },
    });
    try {
      const outcome = await Connection.open({ host: "127.0.0.1", port: impostor.port, caPem, timeoutMs: 10_000 }).then(
        (conn) => (conn.close(), "connected"),
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(TrustError);
      expect(String((outcome as Error).message)).toContain("cannot trust the server at 127.0.0.1");
    } finally {
      impostor.stop(true);
    }
  });
});
