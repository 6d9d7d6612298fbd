/** The PROXY-then-TLS spike (PX4): a balancer's header, then TLS 1.3 with a client certificate on the same socket, the client's own address seen. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { encodeProxyV2 } from "../../src/server/proxy-protocol.ts";
import { startHaproxy } from "../support/haproxy.ts";
import { type ClientAddress, type ProxyTlsListener, listenProxiedTls } from "../../src/server/proxy-tls-listener.ts";

let dir: string;
let pki: Record<"ca" | "key" | "cert" | "key2" | "cert2" | "clientKey" | "clientCert", string>;

function openssl(...args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sis-proxy-"));
  writeFileSync(join(dir, "ext.cnf"), "[srv]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n[cli]\nextendedKeyUsage=clientAuth\n");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=proxy-spike-ca", "-days", "2");
  for (const [name, cn, ext] of [["srv", "127.0.0.1", "srv"], ["srv2", "127.0.0.1", "srv"], ["cli", "alice", "cli"]] as const) {
    openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", "ext.cnf", "-extensions", ext);
  }
  const read = (n: string) => readFileSync(join(dir, n), "utf8");
  pki = { ca: read("ca.pem"), key: read("srv.key"), cert: read("srv.pem"), key2: read("srv2.key"), cert2: read("srv2.pem"), clientKey: read("cli.key"), clientCert: read("cli.pem") };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen { client: ClientAddress; peer: string; protocol: string | null }

/** The spike listener: 127.0.0.1 is the balancer; every secure connection answers "pong <address>" to "ping". */
async function listener(headerTimeoutMs = 5000) {
  const seen: Seen[] = [];
  const refused: string[] = [];
  const server = await listenProxiedTls({
    host: "127.0.0.1", port: 0, balancers: new Set(["127.0.0.1"]), key: pki.key, cert: pki.cert, ca: pki.ca, headerTimeoutMs,
    onSecure(socket, client) {
      seen.push({ client, peer: String(socket.getPeerCertificate()?.subject?.CN), protocol: socket.getProtocol() });
      socket.on("data", () => socket.write(`pong ${client.address}`));
    },
    onRefused: (reason) => refused.push(reason),
  });
  return { server, seen, refused };
}

/**
 * A stand-in balancer (HAProxy's send-proxy-v2 behaves the same on the wire):
 * it waits for the client's ClientHello and sends the header and it in ONE
 * write, the hard case for a listener that reads the header first.
 */
async function fakeBalancer(target: number): Promise<{ port: number; close(): void }> {
  const server = net.createServer((down) => {
    down.once("data", (first: Buffer) => {
      down.pause();
      const header = encodeProxyV2({ address: down.remoteAddress!.replace("::ffff:", ""), port: down.remotePort! }, { address: "127.0.0.1", port: target });
      const up = net.connect({ host: "127.0.0.1", port: target }, () => {
        up.write(Buffer.concat([Buffer.from(header), first]));
        down.pipe(up).pipe(down);
        down.resume();
      });
      up.on("error", () => down.destroy());
      down.on("error", () => up.destroy());
      up.on("close", () => down.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A TLS client from `localAddress`: resolves to the server's answer, or to "closed: <why>" if it never gets one. */
function ping(port: number, localAddress: string, opts: { cert?: boolean; before?: Uint8Array } = {}): Promise<string> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: "127.0.0.1", port, localAddress }, () => {
      if (opts.before) raw.write(opts.before);
      const c = tls.connect({
        socket: raw, ca: pki.ca, servername: undefined, checkServerIdentity: () => undefined,
        ...(opts.cert === false ? {} : { key: pki.clientKey, cert: pki.clientCert }),
      });
      c.on("secureConnect", () => c.write("ping"));
      c.on("data", (d) => { resolve(String(d)); c.destroy(); });
      c.on("error", (e) => resolve(`closed: ${e.message}`));
      c.on("close", () => resolve("closed"));
    });
    raw.on("error", (e) => resolve(`closed: ${e.message}`));
  });
}

describe("PROXY header, then TLS on the same socket (PX4)", () => {
  let l: Awaited<ReturnType<typeof listener>>;
  let lb: { port: number; close(): void };
  beforeAll(async () => {
    l = await listener();
    lb = await fakeBalancer(l.server.port);
  });
  afterAll(async () => {
    lb.close();
    await l.server.close();
  });

  test("through the balancer: TLS 1.3, the client certificate checked, the client's own address (127.0.0.2, 127.0.0.3) seen", async () => {
    expect(await ping(lb.port, "127.0.0.2")).toBe("pong 127.0.0.2");
    expect(await ping(lb.port, "127.0.0.3")).toBe("pong 127.0.0.3");
    expect(l.seen.slice(-2).map((s) => [s.client.address, s.client.proxied, s.peer, s.protocol])).toEqual([
      ["127.0.0.2", true, "alice", "TLSv1.3"], ["127.0.0.3", true, "alice", "TLSv1.3"],
    ]);
  });

  test("a header sent on its own, before the ClientHello, works as well", async () => {
    const header = encodeProxyV2({ address: "203.0.113.9", port: 1234 }, { address: "127.0.0.1", port: l.server.port });
    expect(await ping(l.server.port, "127.0.0.1", { before: header })).toBe("pong 203.0.113.9");
  });

  test("a client without a certificate is refused by TLS even through the balancer", async () => {
    const before = l.seen.length;
    expect(await ping(lb.port, "127.0.0.2", { cert: false })).toStartWith("closed");
    expect(l.seen.length).toBe(before);
  });

  test("a balancer address without a header is refused", async () => {
    const before = l.refused.length;
    expect(await ping(l.server.port, "127.0.0.1")).toStartWith("closed");
    expect(l.refused.slice(before)).toEqual([expect.stringMatching(/a balancer sent no valid PROXY header: no PROXY protocol signature/)]);
  });

  test("a PROXY header from an address that is not a balancer is refused", async () => {
    const before = l.refused.length;
    const forged = encodeProxyV2({ address: "10.9.9.9", port: 1 }, { address: "127.0.0.1", port: l.server.port });
    expect(await ping(l.server.port, "127.0.0.4", { before: forged })).toStartWith("closed");
    expect(l.refused.slice(before)).toEqual(["a PROXY header from an address that is not a balancer"]);
  });

  test("a direct client from another address connects with its socket's address", async () => {
    expect(await ping(l.server.port, "127.0.0.5")).toBe("pong 127.0.0.5");
    expect(l.seen.at(-1)?.client).toMatchObject({ address: "127.0.0.5", proxied: false });
  });
});

test("a balancer that stops halfway through the header is cut off after the header timeout", async () => {
  const l = await listener(300);
  try {
    const closed = Promise.withResolvers<void>();
    const sock = net.connect({ host: "127.0.0.1", port: l.server.port }, () => {
      sock.write(encodeProxyV2({ address: "127.0.0.2", port: 1 }, { address: "127.0.0.1", port: 2 }).subarray(0, 20));
    });
    sock.on("close", () => closed.resolve());
    sock.on("error", () => {});
    await closed.promise;
    expect(l.refused).toEqual(["no PROXY header within 300 ms"]);
  } finally {
    await l.server.close();
  }
});

test("through Debian's HAProxy (mode tcp, send-proxy-v2, leastconn): 127.0.0.2 and 127.0.0.3 are seen apart, with the client certificate", async () => {
  const l = await listener();
  try {
    await using haproxy = await startHaproxy({ backends: [l.server.port] });
    expect(haproxy.config).toContain("send-proxy-v2");
    expect(await ping(haproxy.port, "127.0.0.2")).toBe("pong 127.0.0.2");
    expect(await ping(haproxy.port, "127.0.0.3")).toBe("pong 127.0.0.3");
    expect(l.seen.filter((s) => s.client.proxied).map((s) => [s.client.address, s.peer, s.protocol])).toEqual([
      ["127.0.0.2", "alice", "TLSv1.3"], ["127.0.0.3", "alice", "TLSv1.3"],
    ]);
  } finally {
    await l.server.close();
  }
});

/** An open TLS connection from `localAddress`: the server certificate's serial, and a ping that answers on the same connection. */
async function openTls(port: number, localAddress: string): Promise<{ serial: string; ping(): Promise<string>; close(): void }> {
  const c = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, localAddress, ca: pki.ca, checkServerIdentity: () => undefined, key: pki.clientKey, cert: pki.clientCert } as tls.ConnectionOptions, () => resolve(s));
    s.once("error", reject);
  });
  return {
    serial: c.getPeerCertificate().serialNumber,
    ping: () => new Promise((resolve) => {
      c.once("data", (d) => resolve(String(d)));
      c.write("ping");
    }),
    close: () => c.destroy(),
  };
}

test("RN8: setSecureContext() gives new connections the new certificate; an open connection keeps its own and goes on", async () => {
  const l = await listener();
  try {
    const first = await openTls(l.server.port, "127.0.0.6");
    l.server.setSecureContext({ key: pki.key2, cert: pki.cert2, ca: pki.ca });
    const second = await openTls(l.server.port, "127.0.0.6");
    expect(second.serial).not.toBe(first.serial);
    expect(second.serial).toBe(new X509Certificate(pki.cert2).serialNumber);
    expect(first.serial).toBe(new X509Certificate(pki.cert).serialNumber);
    expect(await first.ping()).toBe("pong 127.0.0.6");
    expect(await second.ping()).toBe("pong 127.0.0.6");
    first.close();
    second.close();
  } finally {
    await l.server.close();
  }
});

test("O1: stopAccepting() refuses new connections while an open one is still served; close() ends it", async () => {
  const l = await listener();
  const open = await openTls(l.server.port, "127.0.0.7");
  l.server.stopAccepting();
  expect(await ping(l.server.port, "127.0.0.7")).toMatch(/^closed: .*ECONNREFUSED|^closed: .*refused/i);
  expect(await open.ping()).toBe("pong 127.0.0.7");
  await l.server.close();
  expect(await Promise.race([open.ping(), Bun.sleep(2_000).then(() => "no answer")])).toBe("no answer");
});

test("the data chunks of a TLS socket are fresh buffers, never reused: held until the end of a 20 MiB stream, they are intact (the session's decoder keeps views of them)", async () => {
  const TOTAL = 20 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let received = 0;
  const all = Promise.withResolvers<void>();
  const server = await listenProxiedTls({
    host: "127.0.0.1", port: 0, balancers: new Set(["127.0.0.1"]), key: pki.key, cert: pki.cert,
    onSecure(socket) {
      socket.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (received >= TOTAL) all.resolve();
      });
    },
  });
  try {
    const c = tls.connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.8", ca: pki.ca, checkServerIdentity: () => undefined } as tls.ConnectionOptions, () => {
      const data = Buffer.alloc(TOTAL);
      for (let i = 0; i < TOTAL; i += 4) data.writeUInt32LE(i, i);
      c.write(data);
    });
    c.on("error", () => {});
    await all.promise;
    const joined = Buffer.concat(chunks);
    let wrong = 0;
    for (let i = 0; i < TOTAL; i += 4) if (joined.readUInt32LE(i) !== i) wrong++;
    expect({ wrong, distinctBuffers: new Set(chunks.map((b) => b.buffer)).size }).toEqual({ wrong: 0, distinctBuffers: chunks.length });
    c.destroy();
  } finally {
    await server.close();
  }
});
