/** sis get: download one image, verify everything, save it (exit 3 and nothing saved on any failure). */
import { join } from "node:path";
import { CrlSource } from "../../src/client/crl.ts";
import { Home, resolveHome } from "../../src/client/home.ts";
import { receiveImage } from "../../src/client/receive.ts";
import { connectAs } from "../../src/client/session.ts";
import { parse, UsageError } from "../args.ts";
import { progressReporter } from "../progress.ts";

export async function get(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { output: { type: "string", short: "o" }, home: { type: "string" }, quiet: { type: "boolean", default: false } }, { min: 1, max: 1 });
  const ref = positionals[0]!;
  let target: { id: string } | { owner: string; name: string };
  if (/^[0-9a-f]{32}$/.test(ref)) target = { id: ref };
  else {
    const slash = ref.indexOf("/");
    if (slash <= 0 || slash === ref.length - 1) throw new UsageError("name the image by its id or as OWNER/NAME");
    target = { owner: ref.slice(0, slash), name: ref.slice(slash + 1) };
  }
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  const outDir = values.output ?? join(home.dir, "images");
  const conn = await connectAs(creds);
  try {
    const progress = progressReporter(`getting ${ref}`, values.quiet);
    let result;
    try {
      result = await receiveImage(conn, creds, new CrlSource(creds.caDer), target, outDir, progress.update);
    } finally {
      progress.done(); // also before an error, so it is not printed after a half-drawn bar
    }
    process.stdout.write(`${result.written ? "saved" : "already saved"} ${result.image.owner}/${result.image.name}: signature by ${result.signer} (serial ${result.signerSerial}) verified\n${result.path}\n`);
    // T4: a token that was not used is never silent; the certificate was judged as of now.
    if (result.tokenProblem) process.stderr.write(`sis: warning: ${result.image.owner}/${result.image.name}: the time-stamp was not used: ${result.tokenProblem}; the signer's certificate was judged as of now\n`);
  } finally {
    conn.close();
  }
  return 0;
}
