/** The demo's wiring: a server, alice and bob in one directory; alice posts, bob's watch verifies; each step told to `say`. */
import { join } from "node:path";
import { Home } from "../client/home.ts";
import { postImage } from "../client/post.ts";
import { register } from "../client/register.ts";
import { connectAs } from "../client/session.ts";
import { watch } from "../client/watch.ts";
import type { Logger } from "../server/logger.ts";
import { startServer } from "./serve.ts";

export interface DemoOptions {
  /** An empty directory the demo may fill (server data, two homes, the sample). */
  dir: string;
  /** The image alice posts (its bytes are copied into `dir` as sample.png). */
  sample: Blob;
  version: string;
  /** One narrated step: who did it and what happened. */
  say(who: string, text: string): void;
  /** Sizes as the CLI prints them. */
  formatSize(bytes: number): string;
  /** What the demo server reports as an error (the rest of its log is narration or silence). */
  onServerError(message: string, fields: Record<string, unknown>): void;
}

/** Runs the demo; true when bob saved exactly the bytes alice posted. */
export async function runDemo(opts: DemoOptions): Promise<boolean> {
  const { dir, say } = opts;
  const serverLog: Logger = {
    debug() {},
    info(message, f) {
      if (message === "image sent") say("server", `unwrapped the key of ${f?.owner}'s image and re-wrapped it for ${f?.to}'s certificate (serial ${f?.serial}); the image itself stayed encrypted`);
    },
    warn() {},
    error(message, f) {
      opts.onServerError(message, f ?? {});
    },
  };
  const server = await startServer({ dataDir: join(dir, "server"), host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: serverLog, version: opts.version, openRegistration: true });
  const controller = new AbortController();
  try {
    const address = `127.0.0.1:${server.port}`;
    say("server", `listening on tls://${address}; new CA with fingerprint ${server.caFingerprint}`);
    const users: Record<string, Home> = {};
    for (const user of ["alice", "bob"]) {
      const home = (users[user] = new Home(join(dir, user)));
      const r = await register({ home, server: address, username: user, password: `${user}-demo-password`, caFingerprint: server.caFingerprint, keyBits: 2048 });
      say(user, `made an RSA key, pinned CA ${r.caFingerprint.slice(0, 23)}…, got certificate serial ${r.profile.serial}`);
    }
    const bob = await users.bob!.credentials();
    const out = join(dir, "bob", "images");
    let resolveSaved!: (path: string) => void;
    const saved = new Promise<string>((r) => (resolveSaved = r));
    let connected!: () => void;
    const ready = new Promise<void>((r) => (connected = r));
    const watching = watch({
      home: users.bob!,
      creds: bob,
      outDir: out,
      signal: controller.signal,
      log: (line) => {
        if (line.startsWith("connected")) connected();
      },
      onNotice: (image) => say("bob", `NEW_IMAGE received: ${image.owner}/${image.name} (${opts.formatSize(image.size)}, ${image.contentType})`),
      onImage: (result) => {
        if ("refused" in result) say("bob", `refused ${result.image.owner}/${result.image.name}: ${result.refused}`);
        else {
          say("bob", `decrypted every chunk; signature by ${result.signer} (serial ${result.signerSerial}) verified against the pinned CA and its CRL`);
          resolveSaved(result.path);
        }
      },
    });
    await ready;
    say("bob", "watching for new images");

    const alice = await users.alice!.credentials();
    const file = join(dir, "sample.png");
    await Bun.write(file, opts.sample);
    const conn = await connectAs(alice);
    try {
      // Told before the upload: bob's watch receives it while it arrives (cut-through), so the
      // server's and bob's lines can come before POSTED reaches alice.
      say("alice", "posting sample.png: encrypting it with a fresh AES-256 key, signing it, wrapping the key for the server");
      const { image } = await postImage(conn, alice, file);
      say("alice", `the server has it on disk: stored as ${image.owner}/${image.name} (id ${image.id})`);
    } finally {
      conn.close();
    }
    const path = await saved;
    const same = Buffer.compare(Buffer.from(await Bun.file(path).arrayBuffer()), Buffer.from(await Bun.file(file).arrayBuffer())) === 0;
    say("bob", `saved ${path}${same ? " — byte-identical to what alice posted" : " — BUT IT DIFFERS"}`);
    controller.abort();
    await watching;
    return same;
  } finally {
    controller.abort();
    await server.stop();
  }
}
