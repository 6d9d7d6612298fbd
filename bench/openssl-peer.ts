/** The peer figure: one file through openssl cms sign → encrypt (AES-256-GCM) → decrypt → verify. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clockMs } from "./measure.ts";

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
}

async function opensslAsync(args: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(["openssl", ...args], { cwd, stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${code}): ${err.trim()}`);
}

const LEAF_EXT = "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nbasicConstraints=CA:FALSE\n";

/** A CA and two RSA-2048 users (owner signs, recipient decrypts), all made by openssl in `dir`. */
export function makeOpensslCerts(dir: string): void {
  writeFileSync(join(dir, "leaf.ext"), LEAF_EXT);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  for (const who of ["owner", "recipient"]) {
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${who}`], dir);
    openssl(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.pem`, "-days", "2", "-extfile", "leaf.ext"], dir);
  }
}

/**
 * Seconds for the four commands in sequence (process start-up included, as for
 * `sis post`). The signature is opaque (-nodetach), so verify yields the image;
 * the caller may compare `out` with `input`.
 */
export async function opensslCmsRound(dir: string, input: string, out: string): Promise<number> {
  const t0 = clockMs();
  await opensslAsync(["cms", "-sign", "-binary", "-nodetach", "-in", input, "-signer", "owner.pem", "-inkey", "owner.key", "-outform", "DER", "-out", "signed.der"], dir);
  await opensslAsync(["cms", "-encrypt", "-binary", "-aes-256-gcm", "-in", "signed.der", "-outform", "DER", "-out", "enveloped.der", "recipient.pem"], dir);
  await opensslAsync(["cms", "-decrypt", "-binary", "-inform", "DER", "-in", "enveloped.der", "-recip", "recipient.pem", "-inkey", "recipient.key", "-out", "decrypted.der"], dir);
  await opensslAsync(["cms", "-verify", "-binary", "-inform", "DER", "-in", "decrypted.der", "-CAfile", "ca.pem", "-out", out], dir);
  return (clockMs() - t0) / 1000;
}
