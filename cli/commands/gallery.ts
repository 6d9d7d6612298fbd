/** sis gallery: a local web page (127.0.0.1 only) showing the saved images, each re-verified, updated live. */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { ClientError } from "../../src/client/errors.ts";
import { Home, resolveHome } from "../../src/client/home.ts";
import { createGalleryApp, GALLERY_IDLE_TIMEOUT_S } from "../../src/gallery/app.ts";
import { newGalleryToken } from "../../src/gallery/token.ts";
import { fromPem } from "../../src/pki/index.ts";
import { intOption, parse } from "../args.ts";

export const DEFAULT_GALLERY_PORT = 8234;
const HOSTNAME = "127.0.0.1";

export async function gallery(args: string[]): Promise<number> {
  const { values } = parse(args, { port: { type: "string" }, output: { type: "string", short: "o" }, home: { type: "string" } });
  const port = intOption(values.port, "port", DEFAULT_GALLERY_PORT, 0, 65535);
  const home = new Home(resolveHome(values.home));
  const caPem = await home.readCaPem();
  if (caPem === null) throw new ClientError(`cannot find the pinned CA in ${home.dir}: run 'sis register' first (or pass --home)`);
  let caDer: Uint8Array;
  try {
    caDer = fromPem(caPem, "CERTIFICATE");
  } catch {
    throw new ClientError(`cannot read the pinned CA ${home.path("ca")}: it is damaged; register again`);
  }
  // Without -o: the folder the last 'sis watch -o' saved into (settings.json), else HOME/images.
  const remembered = (await home.readSettings()).outputDir;
  const dir = resolve(values.output ?? remembered ?? home.path("images"));
  const why = values.output !== undefined ? "given with -o" : remembered !== undefined ? "where 'sis watch -o' saves, remembered in the home" : "the home's default; 'sis watch -o DIR' changes it";
  // Created up front so the page can watch it before the first image arrives.
  await mkdir(dir, { recursive: true, mode: 0o755 });

  // GA1: a fresh secret per run, only ever in the address printed below (never logged).
  const token = newGalleryToken();
  const app = createGalleryApp({ dir, caDer, token, homeDir: home.dir });
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ hostname: HOSTNAME, port, fetch: app.fetch, idleTimeout: GALLERY_IDLE_TIMEOUT_S });
  } catch (error) {
    const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE" || /in use/i.test(String((error as Error).message));
    throw new ClientError(inUse ? `cannot listen on ${HOSTNAME}:${port}: the port is in use; pass --port N (0 picks a free one)` : `cannot listen on ${HOSTNAME}:${port}: ${(error as Error).message}`);
  }
  process.stdout.write(`gallery: http://${HOSTNAME}:${server.port}/?token=${token} (images from ${dir}: ${why})\n`);

  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await server.stop(true);
  return 0;
}
