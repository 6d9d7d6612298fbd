/** sis post: encrypt, sign and upload each file; exit 0 only once the server says it is durable. */
import { Home, resolveHome } from "../../src/client/home.ts";
import { postImage } from "../../src/client/post.ts";
import { connectAs } from "../../src/client/session.ts";
import { parse, UsageError } from "../args.ts";
import { formatSize } from "../format.ts";
import { progressReporter } from "../progress.ts";

export async function post(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { name: { type: "string" }, home: { type: "string" }, quiet: { type: "boolean", default: false }, "keep-metadata": { type: "boolean", default: false } },
    { min: 1, max: 1000 },
  );
  if (values.name !== undefined && positionals.length > 1) throw new UsageError("--name works with one FILE only");
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  // Not awaited here: the first file's first pass (strip and digest) overlaps the TLS handshake and HELLO.
  const connecting = connectAs(creds);
  connecting.catch(() => {}); // a failure is reported where it is awaited, not as an unhandled rejection
  try {
    for (const file of positionals) {
      const progress = progressReporter(`posting ${file}`, values.quiet);
      const { image, removed } = await postImage(connecting, creds, file, {
        ...(values.name !== undefined ? { name: values.name } : {}),
        keepMetadata: values["keep-metadata"],
        onProgress: progress.update,
      });
      progress.done();
      process.stdout.write(`posted ${image.owner}/${image.name} id ${image.id} (${formatSize(image.size)}, ${image.contentType})\n`);
      if (removed.length > 0 && !values.quiet) process.stdout.write(`  removed metadata: ${removed.join(", ")}\n`);
    }
  } finally {
    (await connecting.catch(() => null))?.close();
  }
  return 0;
}
