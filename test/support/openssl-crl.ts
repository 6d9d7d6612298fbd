/** What `openssl crl -text` says of a CRL: its number and revoked serials, so a test judges the CRL with a tool other than ours. */
import { toPem } from "../../src/pki/index.ts";

/** The text of `openssl crl -text -noout` for a DER or PEM CRL; throws with openssl's output when it refuses. */
export function opensslCrlText(crl: Uint8Array | string): string {
  const pem = typeof crl === "string" ? crl : toPem(crl, "X509 CRL");
  const r = Bun.spawnSync(["openssl", "crl", "-text", "-noout"], { stdin: new TextEncoder().encode(pem), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl crl refused the CRL: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** The CRL Number extension as openssl reads it. */
export function crlNumber(crl: Uint8Array | string): number {
  const m = /X509v3 CRL Number:\s*\n\s*(\d+)/.exec(opensslCrlText(crl));
  if (!m) throw new Error("openssl shows no CRL Number");
  return Number(m[1]);
}
