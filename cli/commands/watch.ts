/** sis watch: stay connected; fetch, verify and save every new image; one line per image, a summary when stopped. */
import { resolve } from "node:path";
import { Home, resolveHome } from "../../src/client/home.ts";
import { watch } from "../../src/client/watch.ts";
import { WatchHeartbeat } from "../../src/client/watch-live.ts";
import { parse } from "../args.ts";
import { progressReporter } from "../progress.ts";

export async function watchCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { output: { type: "string", short: "o" }, home: { type: "string" }, quiet: { type: "boolean", default: false } });
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  // -o is remembered (settings.json), so 'sis gallery' and the next watch find this folder without it.
  const outDir = resolve(values.output ?? (await home.outputDir()));
  if (values.output !== undefined) await home.updateSettings({ outputDir: outDir });
  const controller = new AbortController();
  let stoppedBy: string | null = null;
  const stop = (signal: string) => {
    stoppedBy ??= signal;
    controller.abort();
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  const stamp = () => new Date().toISOString();
  const log = (line: string) => process.stdout.write(`${stamp()} ${line}\n`);
  log(`watching; saving verified images under ${outDir}`);
  // The gallery's "live" mark: this process's pid and a fresh time in watch-live.json.
  const heartbeat = new WatchHeartbeat(home, outDir);
  await heartbeat.start();
  try {
    // A bar on the terminal for large downloads, as for 'sis get'; never in a pipe or a log file.
    const summary = await watch({
      home, creds, outDir, log, signal: controller.signal,
      // SIS_DEBUG: also how each image came (cut-through or download), for tests and benchmarks.
      ...(process.env.SIS_DEBUG ? { debug: (line: string) => log(`debug: ${line}`) } : {}),
      progress: (label) => progressReporter(label, values.quiet),
      onImage: (r) => void ("path" in r && heartbeat.imageSaved()),
    });
    process.stderr.write(
      `${stamp()} stopped (${stoppedBy ?? "ended"}): ${summary.received} received, ${summary.refused} refused, ${summary.alreadySaved} already saved; the next watch resumes after #${summary.lastSeq}\n`,
    );
  } finally {
    await heartbeat.stop();
  }
  return 0;
}
