/**
 * startServer() with --proxy-from (PX4, PX5) in-process on port 0: the protocol port on the
 * PROXY-aware node:tls listener. 127.0.0.9 is the balancer; a raw TLS client sends the header
 * itself from there (as HAProxy's send-proxy-v2 does), or connects directly from 127.0.0.1.
 * Every per-address decision (login throttle, connection limit, log) uses the header's address.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/app/serve.ts";
import { toPem } from "../../src/pki/index.ts";
import { encodeMessage, fromBase64, parseInvitation, type ServerMessage } from "../../src/protocol/index.ts";
import type { Logger } from "../../src/server/logger.ts";
import { encodeProxyV2 } from "../../src/server/proxy-protocol.ts";
import { freshCsr, helloAs } from "../support/auth-kit.ts";
import { tempDir } from "../support/cli.ts";
import { rawConnect, type RawClient, type RawConnectOptions } from "../support/raw-client.ts";
import { until } from "../support/until.ts";

setDefaultTimeout(60_000);

const BALANCER = "127.0.0.9";

interface Line { level: string; message: string; fields: Record<string, unknown> }
const lines: Line[] = [];
const log: Logger = {
  debug: (message, fields = {}) => void lines.push({ level: "debug", message, fields }),
  info: (message, fields = {}) => void lines.push({ level: "info", message, fields }),
  warn: (message, fields = {}) => void lines.push({ level: "warn", message, fields }),
  error: (message, fields = {}) => void lines.push({ level: "error", message, fields }),
};

let root: string & Disposable;
let server: RunningServer;
let spareCsr: string;
let alice: { certPem: string; keyPem: string };

/** The header a balancer sends for a client at `address`. */
function header(address: string, port = 40000): Uint8Array {
  return encodeProxyV2({ address, port }, { address: "127.0.0.1", port: server.port });
}

/** A connection through the balancer, as the client at `address`. */
function viaBalancer(address: string, opts: RawConnectOptions = {}): Promise<RawClient> {
  return rawConnect(server.port, { ...opts, localAddress: BALANCER, before: header(address) });
}

/** True when the server ends the connection before TLS completes or before any reply to HELLO. */
async function refused(opts: RawConnectOptions): Promise<boolean> {
  let client: RawClient;
  try {
    client = await rawConnect(server.port, opts);
  } catch {
    return true;
  }
  try {
    const reply = await client.hello().catch(() => null);
    return reply === null;
  } finally {
    client.destroy();
  }
}

async function registerReply(client: RawClient, username: string, password: string, extra: Record<string, string> = {}): Promise<ServerMessage | null> {
  await helloAs(client);
  client.write(encodeMessage({ type: "REGISTER", username, password, csr: spareCsr, ...extra } as never));
  return client.next();
}

beforeAll(async () => {
  root = tempDir("sis-proxied-");
  // Invitation-only: an unknown name is AUTH_FAILED like a wrong password (M6), so each failed login costs one argon2id run and no user.
  server = await startServer({
    dataDir: join(root, "data"), host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log, version: "test",
    limits: { maxConnectionsPerAddress: 3 }, proxyFrom: [BALANCER],
  });
  spareCsr = (await freshCsr("spare")).csr;
  // The first user, directly from 127.0.0.1 (no header: not a balancer), with the first invitation.
  const { csr, keyPem } = await freshCsr("alice");
  await using direct = await rawConnect(server.port);
  await helloAs(direct);
  direct.write(encodeMessage({ type: "REGISTER", username: "alice", password: "alice-password-1", csr, invitation: parseInvitation(server.firstInvitation!.text)!.secret }));
  const reply = await direct.next();
  if (reply?.type !== "REGISTERED") throw new Error(`cannot register alice: ${JSON.stringify(reply)}`);
  alice = { keyPem, certPem: toPem(fromBase64(reply.certificate), "CERTIFICATE") };
});

afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("sis serve --proxy-from: the client's address from the balancer's header (PX5)", () => {
  test("the start is logged with the balancers; a direct client from elsewhere is served without a header, under its own address", async () => {
    expect(lines.find((l) => l.message === "server started")?.fields).toMatchObject({ proxyFrom: BALANCER });
    expect(lines.find((l) => l.message === "user registered")?.fields).toMatchObject({ user: "alice", address: "127.0.0.1" });
  });

  test("mutual TLS through the balancer: the certificate identifies alice; a wrong password is logged with the header's address", async () => {
    await using asAlice = await viaBalancer("203.0.113.7", alice);
    expect(await asAlice.hello()).toMatchObject({ type: "HELLO", user: "alice" });
    await using stranger = await viaBalancer("203.0.113.7");
    expect(await registerReply(stranger, "alice", "not-alices-password")).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    expect(lines.filter((l) => l.message === "login failed").at(-1)?.fields).toEqual({ user: "alice", address: "203.0.113.7" });
  });

  test("the login throttle counts the header's address: ten failures from 198.51.100.7 throttle it, not 198.51.101.7 behind the same balancer", async () => {
    for (let i = 0; i < 10; i++) {
      await using c = await viaBalancer("198.51.100.7");
      expect(await registerReply(c, `nobody${i}`, "wrong-password-1")).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    }
    // Both connections are ready before either asks, so both questions come within the throttle's first second.
    await using same = await viaBalancer("198.51.100.7");
    await using other = await viaBalancer("198.51.101.7");
    await Promise.all([helloAs(same), helloAs(other)]);
    same.write(encodeMessage({ type: "REGISTER", username: "nobody-a", password: "wrong-password-1", csr: spareCsr }));
    other.write(encodeMessage({ type: "REGISTER", username: "nobody-b", password: "wrong-password-1", csr: spareCsr }));
    expect(await same.next()).toMatchObject({ type: "ERROR", code: "THROTTLED" });
    expect(await other.next()).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
  });

  test("the connection limit counts the header's address: a fourth from 192.0.2.1 is refused, 192.0.2.2 is served", async () => {
    const open: RawClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await viaBalancer("192.0.2.1");
        open.push(c);
        expect(await c.hello()).toMatchObject({ type: "HELLO" });
      }
      await using fourth = await viaBalancer("192.0.2.1");
      expect(await fourth.next()).toMatchObject({ type: "ERROR", code: "TOO_MANY_CONNECTIONS" });
      await using elsewhere = await viaBalancer("192.0.2.2");
      expect(await elsewhere.hello()).toMatchObject({ type: "HELLO" });
    } finally {
      for (const c of open) c.destroy();
    }
  });

  test("a PROXY header straight from a non-balancer address is refused and logged (rate-limited, stable words); the balancer without one too", async () => {
    const refusals = () => lines.filter((l) => l.message.startsWith("connection refused:"));
    const before = refusals().length;
    expect(await refused({ localAddress: "127.0.0.4", before: encodeProxyV2({ address: "10.9.9.9", port: 1 }, { address: "127.0.0.1", port: 2 }) })).toBe(true);
    expect(await refused({ localAddress: BALANCER })).toBe(true);
    expect(await refused({ localAddress: BALANCER, before: new TextEncoder().encode("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n") })).toBe(true);
    await until(() => refusals().length >= before + 2, "two refusals logged");
    expect(refusals().slice(before).map((l) => [l.message, l.fields.address])).toEqual([
      ["connection refused: a PROXY header from an address that is not a --proxy-from balancer (PX4)", "127.0.0.4"],
      ["connection refused: a --proxy-from balancer sent no valid PROXY header (PX4)", BALANCER],
      // The second malformed header within the interval is counted, not written (log-limiter.ts).
    ]);
    expect(server.context.metrics.refusals.get("PROXY_REFUSED")).toBe(3);
    // Still serving.
    await using c = await viaBalancer("203.0.113.8");
    expect(await c.hello()).toMatchObject({ type: "HELLO" });
  });

  test("a shutdown drains sessions on this transport too: an idle session hears SHUTTING_DOWN, and the port accepts no more (O1)", async () => {
    const idle = await viaBalancer("203.0.113.9");
    expect(await idle.hello()).toMatchObject({ type: "HELLO" });
    await server.shutdown(2_000);
    expect(await idle.next()).toMatchObject({ type: "ERROR", code: "SHUTTING_DOWN" });
    expect(await refused({})).toBe(true);
    idle.destroy();
  });
});
