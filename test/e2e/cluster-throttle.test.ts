/** The compiled binary, nodes on one PostgreSQL (issue 16, ST10): wrong passwords spread over the nodes are throttled at one node's count. */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import { encodeMessage } from "../../src/protocol/index.ts";
import { freshCsr, helloAs } from "../support/auth-kit.ts";
import { initCluster, register, startServe, tempDir, type ServerProcess } from "../support/cli.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { rawConnect } from "../support/raw-client.ts";

setDefaultTimeout(120_000);

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

async function rawRegister(server: ServerProcess, username: string, password: string, csr: string) {
  await using client = await rawConnect(server.port);
  await helloAs(client);
  client.write(encodeMessage({ type: "REGISTER", username, password, csr }));
  return await client.next();
}

test("three wrong passwords over three nodes (A, B, C) throttle the name on every node, as three on one node do (P17)", async () => {
  using root = tempDir("sis-cluster-throttle-");
  const url = await pg.newDatabase();
  const keys = join(root, "keys");
  await initCluster(keys);
  const nodes = [await startServe(join(root, "a"), ["--database", url, "--keys", keys])];
  try {
    nodes.push(await startServe(join(root, "b"), ["--database", url, "--keys", keys]), await startServe(join(root, "c"), ["--database", url, "--keys", keys]));
    const reg = await register(nodes[0]!, "victim", join(root, "victim"));
    expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: "" });
    const { csr } = await freshCsr("cluster-throttle");

    // One wrong password per node: each node alone has seen one, fewer than the three that throttle.
    for (const node of nodes) expect(await rawRegister(node, "victim", "wrong-password", csr)).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
    const db = new SQL(url, { max: 1 });
    try {
      expect([...(await db`SELECT failures FROM throttle WHERE key = 'u:victim'`)]).toEqual([{ failures: 3 }]);
      // Further attempts round the nodes: throttled on any node by the cluster's count.
      // (An attempt that comes after the wait has passed counts as one more failure and doubles the wait;
      // nodes counting alone would let nine through before the first THROTTLED.)
      let failed = 3;
      let throttled: Awaited<ReturnType<typeof rawRegister>> | undefined;
      for (let i = 0; i < 6 && throttled === undefined; i++) {
        const reply = await rawRegister(nodes[i % 3]!, "victim", "wrong-password", csr);
        if (reply?.type === "ERROR" && reply.code === "THROTTLED") throttled = reply;
        else {
          expect(reply).toMatchObject({ type: "ERROR", code: "AUTH_FAILED" });
          failed++;
        }
      }
      expect(throttled).toMatchObject({ type: "ERROR", code: "THROTTLED" });
      expect(throttled?.type === "ERROR" ? throttled.retryAfter : undefined).toBeGreaterThanOrEqual(1);
      expect(failed).toBeLessThan(9);
      expect([...(await db`SELECT failures FROM throttle WHERE key = 'u:victim'`)]).toEqual([{ failures: failed }]);
    } finally {
      await db.close();
    }
  } finally {
    for (const node of nodes) await node.stop();
  }
});
