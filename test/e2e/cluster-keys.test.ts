/** The compiled `sis admin init-cluster` and `sis serve --keys` (docs/SCALING.md): one set of keys for every node, none made by a node. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initCluster, register, sis, startServe, tempDir } from "../support/cli.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { SAMPLE } from "../support/share.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

function openssl(args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

test("init-cluster makes the CA, storage, TSA and one TLS certificate for the given names, keys 0600, judged by openssl; a second run is refused", async () => {
  using root = tempDir("sis-cluster-");
  const keys = join(root, "keys");
  const made = await initCluster(keys, "lb.example.org,sis2.example.org,10.1.2.3");
  expect(made.stdout).toMatch(/^CA fingerprint \(SHA-256\): [0-9A-F:]{95}$/m);
  expect(made.stdout).toContain("TLS certificate names: 10.1.2.3, 127.0.0.1, lb.example.org, localhost, sis2.example.org\n");
  expect(readdirSync(keys).sort()).toEqual(["ca.key", "ca.pem", "server.hosts", "server.key", "server.pem", "storage-ecdh.key", "storage-ecdh.pem", "storage.key", "storage.pem", "tsa.key", "tsa.pem"]);
  for (const key of ["ca.key", "server.key", "storage.key", "storage-ecdh.key", "tsa.key"]) expect({ key, mode: statSync(join(keys, key)).mode & 0o777 }).toEqual({ key, mode: 0o600 });
  expect(statSync(keys).mode & 0o077).toBe(0);

  for (const cert of ["server.pem", "storage.pem", "storage-ecdh.pem", "tsa.pem"]) {
    const v = openssl(["verify", "-CAfile", join(keys, "ca.pem"), join(keys, cert)]);
    expect({ cert, ...v }).toEqual({ cert, code: 0, out: `${join(keys, cert)}: OK\n` });
  }
  const tls = openssl(["verify", "-CAfile", join(keys, "ca.pem"), "-purpose", "sslserver", join(keys, "server.pem")]);
  expect(tls.code).toBe(0);
  const san = openssl(["x509", "-in", join(keys, "server.pem"), "-noout", "-ext", "subjectAltName"]).out;
  for (const name of ["DNS:lb.example.org", "DNS:sis2.example.org", "DNS:localhost", "IP Address:10.1.2.3", "IP Address:127.0.0.1"]) expect(san).toContain(name);
  const fpr = /^CA fingerprint \(SHA-256\): ([0-9A-F:]{95})$/m.exec(made.stdout)![1]!;
  const x = openssl(["x509", "-in", join(keys, "ca.pem"), "-noout", "-fingerprint", "-sha256"]).out;
  expect(x.trim().split("=")[1]).toBe(fpr);

  const caBefore = readFileSync(join(keys, "ca.key"), "utf8");
  const again = await sis(["admin", "init-cluster", "--out", keys, "--name", "other.example.org"]);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("already holds a CA (ca.key); a second one would split the cluster");
  expect(readFileSync(join(keys, "ca.key"), "utf8")).toBe(caBefore);

  // --renew-tls: a new TLS certificate for the same names from the same CA; the CA key is untouched.
  const tlsBefore = readFileSync(join(keys, "server.pem"), "utf8");
  const renewed = await sis(["admin", "init-cluster", "--out", keys, "--renew-tls"]);
  expect({ code: renewed.code, stderr: renewed.stderr }).toEqual({ code: 0, stderr: "" });
  expect(renewed.stdout).toContain(`CA fingerprint (SHA-256): ${fpr}\n`);
  expect(readFileSync(join(keys, "server.pem"), "utf8")).not.toBe(tlsBefore);
  expect(readFileSync(join(keys, "ca.key"), "utf8")).toBe(caBefore);
  expect(openssl(["x509", "-in", join(keys, "server.pem"), "-noout", "-ext", "subjectAltName"]).out).toContain("DNS:lb.example.org");
  expect(openssl(["verify", "-CAfile", join(keys, "ca.pem"), join(keys, "server.pem")]).code).toBe(0);
  const ecdhBefore = readFileSync(join(keys, "storage-ecdh.key"), "utf8");

  // A keys folder made before the P-256 storage key (PROTOCOL.md P11a) gets one from --renew-tls; one that has it keeps it.
  expect((await sis(["admin", "init-cluster", "--out", keys, "--renew-tls"])).code).toBe(0);
  expect(readFileSync(join(keys, "storage-ecdh.key"), "utf8")).toBe(ecdhBefore);
  rmSync(join(keys, "storage-ecdh.key"));
  rmSync(join(keys, "storage-ecdh.pem"));
  expect((await sis(["admin", "init-cluster", "--out", keys, "--renew-tls"])).code).toBe(0);
  expect(statSync(join(keys, "storage-ecdh.key")).mode & 0o777).toBe(0o600);
  expect(openssl(["verify", "-CAfile", join(keys, "ca.pem"), join(keys, "storage-ecdh.pem")]).code).toBe(0);
  expect(openssl(["x509", "-in", join(keys, "storage-ecdh.pem"), "-noout", "-ext", "keyUsage"]).out).toContain("Key Agreement");
});

test("two nodes on one PostgreSQL from one keys directory: the same CA, and a user registered via node A is accepted via node B with mutual TLS", async () => {
  using root = tempDir("sis-cluster-");
  const url = await pg.newDatabase();
  const keys = join(root, "keys");
  await initCluster(keys, "lb.example.org");
  const a = await startServe(join(root, "a"), ["--database", url, "--keys", keys]);
  try {
    const b = await startServe(join(root, "b"), ["--database", url, "--keys", keys]);
    try {
      expect(b.fingerprint).toBe(a.fingerprint);
      expect(a.output() + b.output()).not.toContain("created a NEW certificate authority");
      // Neither node wrote a key anywhere: the data directories hold no key.
      for (const dir of [join(root, "a"), join(root, "b")]) expect(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".key")) : []).toEqual([]);
      const ca = await (await fetch(`http://127.0.0.1:${a.httpPort}/ca.pem`)).text();
      expect(await (await fetch(`http://127.0.0.1:${b.httpPort}/ca.pem`)).text()).toBe(ca);

      const home = join(root, "alice");
      const reg = await register(a, "alice", home);
      expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: "" });
      // What a load balancer does: the same name, another node. The profile now points at B.
      const profile = JSON.parse(readFileSync(join(home, "profile.json"), "utf8")) as { server: string };
      writeFileSync(join(home, "profile.json"), JSON.stringify({ ...profile, server: b.address }));
      const posted = await sis(["post", "--home", home, "--name", "via-b.png", SAMPLE.png]);
      expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
      const who = await sis(["whoami", "--home", home]);
      expect(who.stdout).toContain(`server      ${b.address}`);
      expect(who.stdout).not.toContain("unknown (the server cannot be reached)");
      // And A lists what was posted via B: one database.
      writeFileSync(join(home, "profile.json"), JSON.stringify({ ...profile, server: a.address }));
      const listed = await sis(["list", "--home", home]);
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
      expect(listed.stdout).toContain("via-b.png");
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
  }
});

test("a node with --database postgres and no keys refuses to start, says to run init-cluster, and makes no key", async () => {
  using root = tempDir("sis-cluster-");
  const url = await pg.newDatabase();
  const data = join(root, "data");
  const r = await sis(["serve", "--data", data, "--port", "0", "--http-port", "0", "--database", url]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^sis: cannot start: no keys directory .*; a node in cluster mode \(--keys, or --database postgres\) never makes keys of its own; run 'sis admin init-cluster --out .* --name LB-NAME' once and copy .* to every node \(keys 0600\)\n$/);
  expect(existsSync(data)).toBe(false);

  // A keys directory with the CA key missing: named, and nothing is made in its place.
  const keys = join(root, "keys");
  await initCluster(keys);
  const { rmSync } = await import("node:fs");
  rmSync(join(keys, "ca.key"));
  const noCa = await sis(["serve", "--data", data, "--port", "0", "--http-port", "0", "--database", url, "--keys", keys]);
  expect(noCa.code).toBe(1);
  expect(noCa.stderr).toContain(`sis: cannot start: no CA key or certificate at ${join(keys, "ca.key")}; run 'sis admin init-cluster`);
  expect(existsSync(join(keys, "ca.key"))).toBe(false);
});

test("a cluster key readable by others is refused at start with the chmod to run", async () => {
  using root = tempDir("sis-cluster-");
  const keys = join(root, "keys");
  await initCluster(keys);
  chmodSync(join(keys, "storage.key"), 0o644);
  // --keys alone is cluster mode too, also on SQLite.
  const r = await sis(["serve", "--data", join(root, "data"), "--port", "0", "--http-port", "0", "--keys", keys]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`sis: cannot start: ${join(keys, "storage.key")} is readable by other users; run 'chmod 600 ${join(keys, "storage.key")}'\n`);
});
