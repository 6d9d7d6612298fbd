/** Test identities made by OpenSSL (an outside producer): a CA and user certificates, in a temp dir. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Identity {
  certDer: Uint8Array;
  certPem: string;
  privateKeyPkcs8: Uint8Array;
  /** Path of the PEM private key, for openssl commands. */
  keyPath: string;
  certPath: string;
}

export interface Fixtures {
  dir: string;
  caPath: string;
  ca: Identity;
  alice: Identity;
  bob: Identity;
  /** A 1024-bit RSA user: too short for sis. */
  weak: Identity;
  /** An EC user: not RSA. */
  ec: Identity;
  [Symbol.dispose](): void;
}

/** Runs openssl and returns stdout; throws with stderr on failure. */
export function openssl(args: string[], cwd: string): { ok: boolean; stdout: string; stderr: string } {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function must(args: string[], cwd: string): void {
  const r = openssl(args, cwd);
  if (!r.ok) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

const USER_EXT = [
  "keyUsage=critical,digitalSignature,keyEncipherment",
  "extendedKeyUsage=clientAuth,emailProtection",
  "subjectKeyIdentifier=hash",
  "authorityKeyIdentifier=keyid",
].join("\n");

function load(dir: string, name: string): Identity {
  must(["pkcs8", "-topk8", "-nocrypt", "-in", `${name}.key`, "-outform", "DER", "-out", `${name}.p8`], dir);
  must(["x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`], dir);
  return {
    certDer: new Uint8Array(readFileSync(join(dir, `${name}.der`))),
    certPem: readFileSync(join(dir, `${name}.pem`), "utf8"),
    privateKeyPkcs8: new Uint8Array(readFileSync(join(dir, `${name}.p8`))),
    keyPath: join(dir, `${name}.key`),
    certPath: join(dir, `${name}.pem`),
  };
}

function user(dir: string, name: string, keyArgs: string[]): Identity {
  must(["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
  must(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", "user.ext", "-out", `${name}.pem`], dir);
  return load(dir, name);
}

/** Makes a CA and users alice, bob (RSA 2048), weak (RSA 1024), ec (P-256). */
export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), "sis-crypto-"));
  writeFileSync(join(dir, "user.ext"), USER_EXT);
  must(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=sis test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  return {
    dir,
    caPath: join(dir, "ca.pem"),
    ca: load(dir, "ca"),
    alice: user(dir, "alice", ["-newkey", "rsa:2048"]),
    bob: user(dir, "bob", ["-newkey", "rsa:2048"]),
    weak: user(dir, "weak", ["-newkey", "rsa:1024"]),
    ec: user(dir, "ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    [Symbol.dispose]() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
