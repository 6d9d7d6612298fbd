/** A private HAProxy for tests: Debian's haproxy in mode tcp with send-proxy-v2 in front of given ports, started on a free port, stopped after. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface HaproxyOptions {
  /** Backend ports on 127.0.0.1 (the sis nodes). */
  backends: number[];
  /** Seconds; must exceed the server's idle timeout so HAProxy never cuts a quiet watcher first. */
  tunnelTimeoutS?: number;
  /** Connections at once; HAProxy needs about twice as many file descriptors (ulimit -n). Default 4096. */
  maxconn?: number;
  /** Send a PROXY v2 header to each backend (default true); false for nodes that do not read it yet. */
  sendProxy?: boolean;
  /** Health-check each backend every `checkMs` (a plain TCP connect): a dead node is taken out, a restarted one back in. */
  checkMs?: number;
  /** The address HAProxy connects to the backends from (`source`): a loopback alias such as 127.0.0.2 keeps the balancer apart from direct clients on 127.0.0.1. */
  source?: string;
}

export interface Haproxy {
  readonly port: number;
  readonly config: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The configuration docs/SCALING.md shows, with the ports filled in. */
export function haproxyConfig(frontPort: number, o: HaproxyOptions): string {
  return [
    "global",
    `  maxconn ${o.maxconn ?? 4096}`,
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 60s",
    "  timeout server 60s",
    `  timeout tunnel ${o.tunnelTimeoutS ?? 3600}s`,
    "  timeout client-fin 5s",
    "frontend sis",
    `  bind 127.0.0.1:${frontPort}`,
    "  default_backend sis_nodes",
    "backend sis_nodes",
    "  balance leastconn",
    // A connection refused by a dead node is tried again on another before the client sees it.
    ...(o.checkMs ? ["  option redispatch", "  retries 3"] : []),
    ...(o.source ? [`  source ${o.source}`] : []),
    ...o.backends.map((p, i) => `  server node${i + 1} 127.0.0.1:${p}${o.sendProxy === false ? "" : " send-proxy-v2"}${o.checkMs ? ` check${o.sendProxy === false ? "" : " check-send-proxy"} inter ${o.checkMs}ms fall 1 rise 1` : ""}`),
    "",
  ].join("\n");
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(false));
  });
}

/** Starts haproxy in the foreground (-db); a missing binary fails with what to install. */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const bin = Bun.which("haproxy") ?? Bun.which("haproxy", { PATH: "/usr/sbin:/usr/local/sbin" });
  if (!bin) throw new Error("cannot start haproxy: it is not installed (apt-get install haproxy; .ci/run installs it)");
  const dir = mkdtempSync(join(tmpdir(), "sis-haproxy-"));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = haproxyConfig(port, o);
    const file = join(dir, "haproxy.cfg");
    writeFileSync(file, config);
    const check = Bun.spawnSync([bin, "-c", "-q", "-f", file], { stdout: "pipe", stderr: "pipe" });
    if (check.exitCode !== 0) throw new Error(`haproxy refused its configuration: ${check.stderr.toString()}`);
    const proc = Bun.spawn([bin, "-db", "-f", file], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && proc.exitCode === null && Date.now() < deadline) {
      up = await accepts(port);
      if (!up) await Bun.sleep(20);
    }
    if (up) {
      return {
        port, config,
        async [Symbol.asyncDispose]() {
          proc.kill("SIGTERM");
          await proc.exited;
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    proc.kill("SIGKILL");
    await proc.exited;
    const err = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
    // Another process may have taken the free port between the probe and the bind: try again a few times.
    if (attempt >= 3) throw new Error(`cannot start haproxy: ${err || "it did not accept connections within 10 s"}`);
  }
}
