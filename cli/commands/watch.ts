/** sis watch: stay connected; fetch, verify and save every new image; one line per image. */
import { resolve } from "node:path";
import { Home, resolveHome } from "../../src/client/home.ts";
import { watch } from "../../src/client/watch.ts";
import { WatchHeartbeat } from "../../src/client/watch-live.ts";
import { parse } from "../args.ts";

export async function watchCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { output: { type: "string", short: "o" }, home: { type: "string" } });
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  // -o is remembered (settings.json), so 'sis gallery' and the next watch find this folder without it.
  const outDir = resolve(values.output ?? (await home.outputDir()));
  if (values.output !== undefined) await home.updateSettings({ outputDir: outDir });
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(`watching; saving verified images under ${outDir}`);
  // The gallery's "live" mark: this process's pid and a fresh time in watch-live.json.
  const heartbeat = new WatchHeartbeat(home, outDir);
  await heartbeat.start();
  try {
    await watch({ home, creds, outDir, log, signal: controller.signal, onImage: (r) => void ("path" in r && heartbeat.imageSaved()) });
  } finally {
    await heartbeat.stop();
  }
  return 0;
}
