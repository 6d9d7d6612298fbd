/**
 * A sis cluster for end-to-end tests (docs/SCALING.md): one private PostgreSQL, one s3rver,
 * N nodes of the compiled binary (each its own --data, the same --keys from `sis admin
 * init-cluster`) and HAProxy in front (mode tcp, TLS passthrough, send-proxy-v2 from 127.0.0.2
 * read by --proxy-from, leastconn, health checks). Clients use `address`, or a node's own.
 */
import { join } from "node:path";
import { initCluster, type Result, type ServerProcess, sis, startServe, tempDir } from "./cli.ts";
import { type Haproxy, startHaproxy } from "./haproxy.ts";
import { type PostgresServer, startPostgres } from "./postgres.ts";
import { S3RVER_KEY, type S3Server, startS3 } from "./s3.ts";

/** s3rver checks the access key id only (docs/SCALING.md); the secret is a placeholder. */
export const S3_ENV = { S3_ACCESS_KEY_ID: S3RVER_KEY, S3_SECRET_ACCESS_KEY: "S3RVER" };

/** The loopback alias HAProxy connects to the nodes from: the nodes' --proxy-from. */
const BALANCER = "127.0.0.2";

/** HAProxy's health-check interval: a killed node is out of the rotation within about this long. */
const CHECK_MS = 300;

export interface ClusterNode {
  readonly index: number;
  readonly dataDir: string;
  /** The running process; replaced by restart(). */
  server: ServerProcess;
  readonly port: number;
  readonly httpPort: number;
  alive: boolean;
}

export interface Cluster extends AsyncDisposable {
  readonly pg: PostgresServer;
  readonly s3: S3Server;
  readonly haproxy: Haproxy;
  readonly nodes: ClusterNode[];
  readonly databaseUrl: string;
  readonly blobsUrl: string;
  /** HOST:PORT of HAProxy: what every client is given. */
  readonly address: string;
  readonly fingerprint: string;
  /** The folder `sis admin init-cluster` made: every node's --keys. */
  readonly keysDir: string;
  /** A scratch folder removed with the cluster (homes, output folders, images). */
  readonly root: string;
  /** SIGKILL, as a machine or process dying: nothing is flushed, nothing said. */
  kill(i: number): Promise<void>;
  /** Starts node i again on its own ports and data directory. */
  restart(i: number): Promise<void>;
  /** Ends every node's LISTEN connection (application_name sis-serve-listen); returns how many were ended. */
  terminateListeners(): Promise<number>;
  /** `sis admin ARGS --data <node 1> --database URL --blobs URL`. */
  admin(args: string[]): Promise<Result>;
  /** The text of node i's /metrics or /crl.pem (its HTTP side, not behind HAProxy). */
  http(i: number, path: string): Promise<Uint8Array>;
  /** A metric's value on node i (the first sample named `name`), or NaN. */
  metric(i: number, name: string): Promise<number>;
}

export interface ClusterOptions {
  nodes?: number;
  /** More `sis serve` flags for every node (e.g. --revocation-check 1). */
  serveArgs?: string[];
}

/** Starts the whole cluster; on any failure what was started is stopped again. */
export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const root = tempDir("sis-cluster-");
  const count = o.nodes ?? 3;
  const cleanups: (() => Promise<void>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    root[Symbol.dispose]();
  };
  try {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const s3 = await startS3();
    cleanups.push(() => s3[Symbol.asyncDispose]());
    const databaseUrl = await pg.newDatabase();
    const blobsUrl = `s3://${s3.bucket}/blobs/?endpoint=${s3.endpoint}`;
    // One set of keys for every node (docs/SCALING.md): the TLS certificate names localhost and
    // 127.0.0.1, the name clients use for HAProxy here; each node keeps its own --data.
    const keysDir = join(root, "keys");
    await initCluster(keysDir, "localhost");
    // HAProxy connects from BALANCER with a PROXY v2 header (read by --proxy-from); clients
    // connecting to a node directly come from 127.0.0.1 and send none.
    const args = ["--keys", keysDir, "--database", databaseUrl, "--blobs", blobsUrl, "--proxy-from", BALANCER, ...(o.serveArgs ?? [])];
    const serve = (dir: string, ports: string[] = []) => startServe(dir, [...args, ...ports], { env: S3_ENV });

    const nodes: ClusterNode[] = [];
    cleanups.push(async () => {
      for (const n of nodes) await n.server.stop("SIGKILL");
    });
    for (let i = 0; i < count; i++) {
      const dataDir = join(root, `node${i + 1}`);
      const server = await serve(dataDir);
      nodes.push({ index: i, dataDir, server, port: server.port, httpPort: server.httpPort, alive: true });
    }
    const fingerprint = nodes[0]!.server.fingerprint;
    for (const n of nodes) if (n.server.fingerprint !== fingerprint) throw new Error(`node ${n.index + 1} has another CA: the keys were not shared`);

    const haproxy = await startHaproxy({ backends: nodes.map((n) => n.port), sendProxy: true, source: BALANCER, checkMs: CHECK_MS });
    cleanups.push(() => haproxy[Symbol.asyncDispose]());
    const address = `127.0.0.1:${haproxy.port}`;

    const http = async (i: number, path: string) => {
      const r = await fetch(`http://127.0.0.1:${nodes[i]!.httpPort}${path}`);
      if (!r.ok) throw new Error(`node ${i + 1} ${path}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    };
    return {
      pg, s3, haproxy, nodes, databaseUrl, blobsUrl, address, fingerprint, keysDir, root,
      async kill(i) {
        const n = nodes[i]!;
        await n.server.stop("SIGKILL");
        n.alive = false;
      },
      async restart(i) {
        const n = nodes[i]!;
        n.server = await serve(n.dataDir, ["--port", String(n.port), "--http-port", String(n.httpPort)]);
        n.alive = true;
        // HAProxy's health check (every CHECK_MS, rise 1) takes it back in within one interval; three to be sure.
        await Bun.sleep(3 * CHECK_MS);
      },
      async terminateListeners() {
        const rows = await pg.admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'sis-serve-listen'`;
        return [...rows].filter((r: { ok: boolean }) => r.ok).length;
      },
      admin(a) {
        return sis(["admin", ...a, "--data", keysDir, "--database", databaseUrl, "--blobs", blobsUrl], { env: S3_ENV });
      },
      http,
      async metric(i, name) {
        const text = new TextDecoder().decode(await http(i, "/metrics"));
        const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
        return m ? Number(m[1]) : NaN;
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
