/** sis watch: stay connected; fetch, verify and save every new image; one line per image. */
import { join } from "node:path";
import { Home, resolveHome } from "../../src/client/home.ts";
import { watch } from "../../src/client/watch.ts";
import { parse } from "../args.ts";

export async function watchCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { output: { type: "string", short: "o" }, home: { type: "string" } });
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  const outDir = values.output ?? join(home.dir, "images");
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(`watching; saving verified images under ${outDir}`);
  await watch({ home, creds, outDir, log, signal: controller.signal });
  return 0;
}
