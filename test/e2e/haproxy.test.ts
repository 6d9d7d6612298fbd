/**
 * The compiled binary behind Debian's HAProxy (mode tcp, TLS passthrough, send-proxy-v2,
 * leastconn; test/support/haproxy.ts writes the configuration docs/SCALING.md shows):
 * `sis serve --proxy-from 127.0.0.1` (HAProxy's own address here) reads the header (PX4, PX5).
 * Register, post (a 12 MiB image, so the node:tls transport meets backpressure) and watch
 * through HAProxy; clients bound to different loopback addresses are throttled apart and
 * logged with their own address; a PROXY header straight from a non-balancer is refused.
 *
 * The login throttle counts per /24 (M15, src/server/throttle.ts): the two clients are in
 * 127.0.2.0/24 and 127.0.3.0/24, and HAProxy (127.0.0.1) in neither, so a throttle that
 * counted HAProxy's address, or one /24 for both clients, fails the test.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { encodeMessage, type ServerMessage } from "../../src/protocol/index.ts";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { encodeProxyV2 } from "../../src/server/proxy-protocol.ts";
import { freshCsr, helloAs } from "../support/auth-kit.ts";
import { SIS, sis, startServe, startWatch, tempDir, type ServerProcess } from "../support/cli.ts";
import { startHaproxy, type Haproxy } from "../support/haproxy.ts";
import { rawConnect, type RawClient } from "../support/raw-client.ts";
import { sameFiles, writeBigPng } from "../support/share.ts";
import { until } from "../support/until.ts";

setDefaultTimeout(120_000);

const NEAR = "127.0.2.2";
const FAR = "127.0.3.3";

let root: string & Disposable;
let server: ServerProcess;
let haproxy: Haproxy;
let spareCsr: string;

/** `sis register` through HAProxy (the server's own port would refuse a header-less connection from 127.0.0.1). */
function registerVia(user: string, home: string) {
  return sis(["register", "--server", `127.0.0.1:${haproxy.port}`, "--user", user, "--home", home, "--password-stdin", "--ca-fingerprint", server.fingerprint, "--key-bits", "2048"], { stdin: `${user}-password-1\n` });
}

/** One REGISTER on a fresh connection through HAProxy from `from`; the reply. */
async function attempt(from: string, username: string, password: string, csr = spareCsr): Promise<ServerMessage | null> {
  await using c = await rawConnect(haproxy.port, { localAddress: from });
  await helloAs(c);
  c.write(encodeMessage({ type: "REGISTER", username, password, csr }));
  // Awaited here: `await using` ends the connection as the function returns.
  return await c.next();
}

beforeAll(async () => {
  root = tempDir("sis-haproxy-e2e-");
  // debug: the shutdown test waits for "upload started".
  server = await startServe(join(root, "data"), ["--proxy-from", "127.0.0.1", "--log-level", "debug", "--shutdown-grace", "30"]);
  haproxy = await startHaproxy({ backends: [server.port] });
  spareCsr = (await freshCsr("spare")).csr;
});

afterAll(async () => {
  await haproxy?.[Symbol.asyncDispose]();
  await server?.stop();
  root?.[Symbol.dispose]();
});

describe("sis serve --proxy-from behind HAProxy (send-proxy-v2)", () => {
  test("register, post and watch through HAProxy: bob's watch saves alice's 12 MiB image byte-identical", async () => {
    expect(haproxy.config).toContain("send-proxy-v2");
    expect(haproxy.config).toContain("balance leastconn");
    // HAProxy's start-up probes (a connection reset at once) are no refusal.
    expect(server.log()).not.toContain("connection refused");
    const alice = join(root, "alice");
    const bob = join(root, "bob");
    for (const [user, home] of [["alice", alice], ["bob", bob]] as const) {
      const r = await registerVia(user, home);
      expect({ user, code: r.code, stderr: r.stderr }).toEqual({ user, code: 0, stderr: "" });
    }
    const out = join(root, "out");
    await using w = startWatch(bob, out);
    await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
    const image = join(root, "big.png");
    await writeBigPng(image, 12 * 1024 * 1024);
    const posted = await sis(["post", "--home", alice, "--name", "big.png", image]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    await w.waitFor(/ saved alice\/big\.png \(#\d+\): signature by alice /);
    expect(await sameFiles(image, join(out, "alice", "big.png"))).toBe(true);
    // The server saw HAProxy's clients under their own address (here 127.0.0.1 too, the CLI's).
    expect(server.log()).toMatch(/ info user registered user="alice" serial="[0-9a-f]+" address="127\.0\.0\.1"/);
  });

  test(`wrong passwords from ${NEAR} throttle ${NEAR}, not ${FAR}; the log names each client's own address`, async () => {
    // Open registration: an unknown name would register, so the failures are wrong passwords for
    // existing users, two each (three would throttle the username for everyone, P17).
    const users = ["t0", "t1", "t2", "t3", "t4"];
    const csrs = await Promise.all(users.map((u) => freshCsr(u)));
    for (const [i, u] of users.entries()) expect(await attempt(FAR, u, `${u}-password-1`, csrs[i]!.csr)).toMatchObject({ type: "REGISTERED" });
    for (let i = 0; i < 10; i++) {
      expect(await attempt(NEAR, users[i % 5]!, "wrong-password-1")).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    }
    // Both connections are ready (TLS and HELLO) before either asks: both questions come within the throttle's first second.
    await using near = await rawConnect(haproxy.port, { localAddress: NEAR });
    await using far = await rawConnect(haproxy.port, { localAddress: FAR });
    await Promise.all([helloAs(near), helloAs(far)]);
    near.write(encodeMessage({ type: "REGISTER", username: "t0", password: "t0-password-1", csr: spareCsr }));
    far.write(encodeMessage({ type: "REGISTER", username: "t1", password: "wrong-password-1", csr: spareCsr }));
    expect(await near.next()).toMatchObject({ type: "ERROR", code: "THROTTLED" });
    expect(await far.next()).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    await until(() => server.log().includes(`address="${FAR}"`) && server.log().split("\n").filter((l) => / info login failed /.test(l)).length >= 11, "the failures logged");
    const failed = server.log().split("\n").filter((l) => / info login failed /.test(l));
    expect(failed.filter((l) => l.includes(`address="${NEAR}"`))).toHaveLength(10);
    expect(failed.filter((l) => l.includes(`address="${FAR}"`))).toHaveLength(1);
    expect(failed.filter((l) => l.includes('address="127.0.0.1"'))).toHaveLength(0);
  });

  test("a PROXY header sent straight to the node from a non-balancer address is refused and logged; the balancer's address without one too", async () => {
    const forged = encodeProxyV2({ address: "10.9.9.9", port: 1 }, { address: "127.0.0.1", port: server.port });
    const outcome = async (opts: Parameters<typeof rawConnect>[1]) => {
      let c: RawClient;
      try {
        c = await rawConnect(server.port, opts);
      } catch (error) {
        return `refused: ${(error as Error).message}`;
      }
      const reply = await c.hello().catch(() => null);
      c.destroy();
      return reply === null ? "refused: closed" : `served: ${reply.type}`;
    };
    expect(await outcome({ localAddress: "127.0.0.4", before: forged })).toStartWith("refused");
    await until(() => /warn connection refused: a PROXY header from an address that is not a --proxy-from balancer \(PX4\) address="127\.0\.0\.4"/.test(server.log()), "the forged header logged");
    // Directly from 127.0.0.1 (HAProxy's address) a connection must carry a header.
    expect(await outcome({})).toStartWith("refused");
    await until(() => /warn connection refused: a --proxy-from balancer sent no valid PROXY header \(PX4\) address="127\.0\.0\.1"/.test(server.log()), "the missing header logged");
    // A direct client from any other address is served without a header.
    expect(await outcome({ localAddress: "127.0.0.5" })).toBe("served: HELLO");
  });

  // Last: it stops the server.
  test("SIGTERM during a 40 MiB post through HAProxy: the upload under way finishes on this transport and is acknowledged; the server drains and exits 0 (O1, O2)", async () => {
    const alice = join(root, "alice");
    const image = join(root, "huge.png");
    await writeBigPng(image, 40 * 1024 * 1024);
    const proc = Bun.spawn([SIS, "post", "--home", alice, "--name", "huge.png", image], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" } });
    const posted = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const tmp = join(root, "data", DATA_FILES.blobs, "tmp");
    const tmpBytes = () => readdirSync(tmp).reduce((n, f) => n + statSync(join(tmp, f)).size, 0);
    await until(() => / debug upload started /.test(server.log()) && tmpBytes() >= 4 * 1024 * 1024, "the upload to be under way", 60_000);
    server.proc.kill("SIGTERM");
    const [[stdout, stderr, code], exit] = await Promise.all([posted, server.proc.exited]);
    expect({ code, stderr, exit }).toEqual({ code: 0, stderr: "", exit: 0 });
    expect(stdout).toStartWith("posted alice/huge.png id ");
    expect(server.log()).toMatch(/ info server stopped signal="SIGTERM" sessions=\d+ uploads=1 aborted=0 finished=1 /);
  });
});
