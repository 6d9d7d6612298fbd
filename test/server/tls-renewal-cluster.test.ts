/** RN8 in cluster mode (docs/SCALING.md): a node issues no TLS certificate; it takes up one the operator renewed in the keys folder, and warns while its own is due. */
import "reflect-metadata";
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certInfo, fromPem, type CaFiles } from "../../src/pki/index.ts";
import { initCluster, openClusterKeys, readClusterTls, renewClusterTls } from "../../src/server/cluster-keys.ts";
import { createLogger } from "../../src/server/logger.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { startTlsRenewal } from "../../src/server/tls-renewal.ts";

setDefaultTimeout(60_000);

const root = mkdtempSync(join(tmpdir(), "sis-tls-cluster-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("the node rereads the keys folder: the same certificate changes nothing, a renewed one is served to new connections, and nothing is written", async () => {
  const dir = join(root, "keys");
  await initCluster(dir, ["lb.example.org"], { tlsCertDays: 30 });
  const keys = await openClusterKeys(dir);
  const replaced: CaFiles[] = [];
  let log = "";
  const metrics = new Metrics();
  const renewal = startTlsRenewal({
    dataDir: join(root, "never-written"), ca: keys.ca, hosts: ["localhost"], certPem: keys.tls.certPem, lifetimeDays: 30, checkMs: 3_600_000,
    log: createLogger((t) => void (log += t), { level: "info", format: "text" }), metrics,
    reload: () => readClusterTls(dir),
    replace: (files) => void replaced.push(files),
  });
  try {
    const files = readdirSync(dir).sort();
    await renewal.check();
    expect(replaced).toEqual([]);
    expect(log).not.toContain("due for renewal");

    // 25 of its 30 days later the certificate is due: a warning, no certificate of the node's own.
    const notAfter = certInfo(fromPem(keys.tls.certPem, "CERTIFICATE")).notAfter;
    await renewal.check(notAfter - 5 * 24 * 3600 * 1000);
    expect(log).toContain("the cluster's TLS certificate is due for renewal; run 'sis admin init-cluster --renew-tls");
    expect(replaced).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(readdirSync(root)).not.toContain("never-written");

    // The operator renews it in the folder: the next check takes it up.
    await renewClusterTls(dir, null);
    await renewal.check();
    expect(replaced.length).toBe(1);
    expect(replaced[0]!.certPem).toBe(readFileSync(join(dir, "server.pem"), "utf8"));
    expect(metrics.tlsRenewals).toBe(1);
    expect(log).toContain("TLS certificate of the keys directory taken up");
  } finally {
    renewal.stop();
  }
});
