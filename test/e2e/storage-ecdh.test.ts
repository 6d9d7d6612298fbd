/**
 * The P-256 storage key (PROTOCOL.md P11a, ENVELOPE.md W6..W10) through the compiled binary: a
 * data directory gets its certificate, which openssl judges; a client of version 5 wraps image keys
 * for it by key agreement, a client offering version 4 at most for the RSA key as before; the
 * server opens both, after a restart too (nothing cached), and another user receives both verified.
 */
// First, before anything loads @peculiar/x509: Bun may evaluate CommonJS dependencies out of source order (see the report on src/pki/setup.ts).
import "reflect-metadata";
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { openssl } from "../support/auth-kit.ts";
import { sis, startServe } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, sameFiles } from "../support/share.ts";

setDefaultTimeout(90_000);

let box: Sandbox;
let data: string;

beforeAll(async () => {
  box = await openSandbox("sis-storage-ecdh-", ["alice", "bob"]);
  data = join(box.root, "data");
}, 120_000);

afterAll(async () => {
  await box?.close();
});

/** The wrapped key the server stored for alice's image `name`. */
function storedWrap(name: string): Uint8Array {
  const db = new Database(join(data, DATA_FILES.database), { readonly: true });
  try {
    const row = db.query("SELECT wrapped_key FROM images WHERE name = ?").get(name) as { wrapped_key: Uint8Array } | null;
    if (!row) throw new Error(`no image ${name} in the database`);
    return new Uint8Array(row.wrapped_key);
  } finally {
    db.close();
  }
}

async function post(name: string, env: Record<string, string> = {}): Promise<string> {
  const r = await sis(["post", "--home", box.home("alice"), "--quiet", "--name", name, SAMPLE.jpg], { env });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return name;
}

async function bobGets(name: string): Promise<void> {
  const out = box.freshDir("get");
  const r = await sis(["get", "--home", box.home("bob"), "-o", out, `alice/${name}`]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(await sameFiles(SAMPLE.jpg, join(out, "alice", name))).toBe(true);
}

describe("the P-256 storage key", () => {
  test("a new data directory has a key-agreement certificate issued by its CA, as openssl reads it", async () => {
    const cert = join(data, DATA_FILES.storageEcdhCert);
    const text = await openssl(["x509", "-in", cert, "-noout", "-text"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("ASN1 OID: prime256v1");
    expect(text.stdout).toMatch(/X509v3 Key Usage: critical\n\s+Key Agreement\n/);
    const verified = await openssl(["verify", "-CAfile", join(data, DATA_FILES.caCert), cert]);
    expect(verified.stdout.trim()).toBe(`${cert}: OK`);
  });

  test("a client of version 5 wraps for it by key agreement; one offering version 4 at most wraps for the RSA key; bob gets both", async () => {
    await post("ecdh.jpg");
    await post("rsa.jpg", { SIS_PROTOCOL_MAX: "4" });
    const ecdh = storedWrap("ecdh.jpg");
    expect({ length: ecdh.length, first: ecdh[0] }).toEqual({ length: 105, first: 0x04 });
    expect(storedWrap("rsa.jpg").length).toBe(384);
    await bobGets("ecdh.jpg");
    await bobGets("rsa.jpg");
  });

  test("after a restart, with no content key cached, the server opens both kinds of stored wrap again", async () => {
    await box.server.stop();
    const again = await startServe(data, ["--port", String(box.port)]);
    try {
      await bobGets("ecdh.jpg");
      await bobGets("rsa.jpg");
    } finally {
      await again.stop();
    }
  });
});
