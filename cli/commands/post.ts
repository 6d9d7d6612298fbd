/** sis post: encrypt, sign and upload each file (a folder: the images in it, --recursive: and below); exit 0 only once the server says each is durable. */
import { Home, resolveHome } from "../../src/client/home.ts";
import type { Posted } from "../../src/client/post.ts";
import { expandPostSources, postBatch, postNamed } from "../../src/client/post-batch.ts";
import { connectAs } from "../../src/client/session.ts";
import { parse, UsageError } from "../args.ts";
import { formatSize } from "../format.ts";
import { progressReporter } from "../progress.ts";
import { errorLine } from "../error-line.ts";
import { RateGate, rateWaitLine } from "../../src/client/rate-wait.ts";

export async function post(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { name: { type: "string" }, home: { type: "string" }, quiet: { type: "boolean", default: false }, "keep-metadata": { type: "boolean", default: false }, recursive: { type: "boolean", short: "r", default: false }, rename: { type: "boolean", default: false } },
    { min: 1, max: 1000 },
  );
  if (values.name !== undefined && positionals.length > 1) throw new UsageError("--name works with one FILE only");
  const sources = await expandPostSources(positionals, { recursive: values.recursive });
  const rename = values.rename;
  if (values.name !== undefined && sources.folders) throw new UsageError("--name works with one FILE only, not with a folder");
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  const quiet = values.quiet;
  const keepMetadata = values["keep-metadata"];
  const report = ({ image, removed, kept, takenName }: Posted & { takenName?: string }) => {
    process.stdout.write(`posted ${image.owner}/${image.name} id ${image.id} (${formatSize(image.size)}, ${image.contentType})\n`);
    if (takenName !== undefined) process.stdout.write(`  renamed: you already have an image named ${JSON.stringify(takenName)}\n`);
    if (removed.length > 0 && !quiet) process.stdout.write(`  removed metadata: ${removed.join(", ")}\n`);
    if (kept.length > 0 && !quiet) process.stdout.write(`  kept (it changes how the picture looks): ${kept.join(", ")}\n`);
  };

  if (!sources.folders && sources.files.length === 1) {
    // One file: its error is the command's error.
    const file = sources.files[0]!;
    // Not awaited here: the file's first pass (strip and digest) overlaps the TLS handshake and HELLO.
    const connecting = connectAs(creds);
    connecting.catch(() => {}); // a failure is reported where it is awaited, not as an unhandled rejection
    const progress = progressReporter(`posting ${file}`, quiet);
    try {
      // Over the server's post rate (M26) the one file waits too, saying so; past the bounds the refusal is the error.
      const gate = new RateGate((wait) => {
        progress.done();
        process.stderr.write(rateWaitLine(wait));
      });
      report(await postNamed(connecting, creds, file, { ...(values.name !== undefined ? { name: values.name } : {}), keepMetadata, onProgress: progress.update, rename, gate }));
    } finally {
      progress.done();
      (await connecting.catch(() => null))?.close();
    }
    return 0;
  }

  for (const { path, reason } of sources.skipped) process.stderr.write(`skipped ${path}: ${reason}\n`);
  let exitCode = 0;
  let progress = progressReporter("", true);
  const result = await postBatch(creds, sources.files, { keepMetadata, rename }, {
    starting: (file) => {
      progress = progressReporter(`posting ${file}`, quiet);
      return progress.update;
    },
    posted: (_file, posted) => {
      progress.done();
      report(posted);
    },
    waiting: (wait) => {
      // Said once, and again only for a long wait, so a big album does not fill the screen.
      if (!wait.first && wait.seconds < 10) return;
      progress.done();
      process.stderr.write(rateWaitLine(wait));
    },
    failed: (file, error) => {
      progress.done();
      const { line, exitCode: code } = errorLine(`post ${file}`, error);
      process.stderr.write(line);
      exitCode = Math.max(exitCode, code);
    },
  });
  const total = sources.files.length;
  const files = (n: number) => `${n} ${n === 1 ? "file" : "files"}`;
  const skipped = sources.skipped.length > 0 ? `; ${sources.skipped.length} skipped` : "";
  if (exitCode !== 0) {
    const notTried = result.notTried.length > 0 ? ` (${result.notTried.length} not tried: no connection to the server)` : "";
    process.stderr.write(`sis: cannot post ${result.failed + result.notTried.length} of ${files(total)}${notTried}; ${result.posted} posted${skipped}\n`);
  } else if (!quiet) process.stdout.write(`posted ${files(result.posted)}${skipped}\n`);
  return exitCode;
}
