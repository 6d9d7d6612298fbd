/** sis get: download one image (or --all), verify everything, save it (exit 3 and nothing saved on any failure). */
import { resolve } from "node:path";
import { CrlSource } from "../../src/client/crl.ts";
import { Home, resolveHome } from "../../src/client/home.ts";
import { receiveImage } from "../../src/client/receive.ts";
import { connectAs } from "../../src/client/session.ts";
import { syncAll } from "../../src/client/sync.ts";
import { parse, UsageError } from "../args.ts";
import { progressReporter } from "../progress.ts";

export async function get(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { output: { type: "string", short: "o" }, home: { type: "string" }, quiet: { type: "boolean", default: false }, all: { type: "boolean", default: false } },
    { min: 0, max: 1 },
  );
  if (values.all && positionals.length > 0) throw new UsageError("--all fetches every image; name no image with it");
  if (!values.all && positionals.length === 0) throw new UsageError("name the image by its id or as OWNER/NAME, or pass --all");
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  // The default folder is the one the last 'sis watch -o' chose (settings.json), else HOME/images.
  const outDir = resolve(values.output ?? (await home.outputDir()));
  if (values.all) return getAll(creds, outDir, values.quiet);

  const ref = positionals[0]!;
  let target: { id: string } | { owner: string; name: string };
  if (/^[0-9a-f]{32}$/.test(ref)) target = { id: ref };
  else {
    const slash = ref.indexOf("/");
    if (slash <= 0 || slash === ref.length - 1) throw new UsageError("name the image by its id or as OWNER/NAME");
    target = { owner: ref.slice(0, slash), name: ref.slice(slash + 1) };
  }
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

async function getAll(creds: Awaited<ReturnType<Home["credentials"]>>, outDir: string, quiet: boolean): Promise<number> {
  const conn = await connectAs(creds);
  try {
    const result = await syncAll(conn, creds, outDir, {
      skipped: (image) => void (quiet || process.stdout.write(`already there ${image.owner}/${image.name}: verified, skipped\n`)),
      saved: (r) => process.stdout.write(`saved ${r.image.owner}/${r.image.name}: signature by ${r.signer} (serial ${r.signerSerial}) verified -> ${r.path}\n`),
      refused: (image, reason) => process.stderr.write(`sis: cannot save ${image.owner}/${image.name}: ${reason}\n`),
    });
    const refused = result.refused > 0 ? `, ${result.refused} refused` : "";
    if (!quiet || result.refused > 0) process.stdout.write(`${result.saved} saved, ${result.skipped} already there${refused} in ${outDir}\n`);
    return result.refused > 0 ? 3 : 0;
  } finally {
    conn.close();
  }
}
