/** A real sis server with alice (poster) and bob (receiver); bob saves verified images into a gallery directory. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrlSource } from "../../src/client/crl.ts";
import { Home, type Credentials } from "../../src/client/home.ts";
import { postImage } from "../../src/client/post.ts";
import { receiveImage, type Received } from "../../src/client/receive.ts";
import { register } from "../../src/client/register.ts";
import { connectAs } from "../../src/client/session.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { startServer, type RunningServer } from "../../src/app/serve.ts";
import { gradientPng } from "./png.ts";

const PASSWORD = "correct horse battery staple";

export interface GalleryFixture extends AsyncDisposable {
  /** Where bob's images are saved: the gallery's DIR. */
  dir: string;
  /** A directory beside DIR, for files that must never be served. */
  outside: string;
  caDer: Uint8Array;
  server: RunningServer;
  /** alice posts a gradient PNG named `name`; bob downloads, verifies and saves it into DIR. */
  share(name: string, colours?: [[number, number, number], [number, number, number]]): Promise<Received>;
  /** The same with the given file's bytes (keepMetadata: posted with --keep-metadata). */
  shareBytes(name: string, bytes: Uint8Array, opts?: { keepMetadata?: boolean }): Promise<Received>;
  /** A scratch directory beside DIR (a client home for the gallery, say). */
  root: string;
  /** alice's credentials, to sign files locally (bench/gallery-first-screen.ts). */
  alice: Credentials;
}

const PALETTE: [[number, number, number], [number, number, number]][] = [
  [[255, 183, 94], [237, 66, 100]],
  [[67, 206, 162], [24, 90, 157]],
  [[250, 208, 196], [255, 209, 255]],
  [[150, 222, 218], [80, 201, 195]],
];

async function enrol(server: RunningServer, root: string, username: string): Promise<Credentials> {
  const home = new Home(join(root, username));
  await register({ home, server: `127.0.0.1:${server.port}`, username, password: PASSWORD, caFingerprint: server.caFingerprint, keyBits: 2048 });
  return home.credentials();
}

export async function startGalleryFixture(): Promise<GalleryFixture> {
  const root = mkdtempSync(join(tmpdir(), "sis-gallery-"));
  const dir = join(root, "images");
  const outside = join(root, "outside");
  mkdirSync(outside);
  let server: RunningServer | null = null;
  try {
    server = await startServer({ dataDir: join(root, "data"), host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: silentLogger, version: "test", openRegistration: true });
    const alice = await enrol(server, root, "alice");
    const bob = await enrol(server, root, "bob");
    const crl = new CrlSource(bob.caDer);
    let shared = 0;
    const shareBytes = async (name: string, bytes: Uint8Array, opts: { keepMetadata?: boolean } = {}) => {
      shared++;
      const source = join(root, `source-${shared}`);
      writeFileSync(source, bytes);
      const up = await connectAs(alice);
      try {
        await postImage(up, alice, source, { name, keepMetadata: opts.keepMetadata ?? false });
      } finally {
        up.close();
      }
      const down = await connectAs(bob);
      try {
        return await receiveImage(down, bob, crl, { owner: "alice", name }, dir);
      } finally {
        down.close();
      }
    };
    const share = (name: string, colours = PALETTE[shared % PALETTE.length]!) => shareBytes(name, gradientPng(...colours));
    const running = server;
    return {
      root,
      alice,
      shareBytes,
      dir,
      outside,
      caDer: bob.caDer,
      server: running,
      share,
      async [Symbol.asyncDispose]() {
        await running.stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
