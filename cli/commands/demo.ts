/** sis demo: a server, alice and bob in a temporary directory; alice posts, bob's watch verifies; every step narrated. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import samplePng from "../../assets/sample.png" with { type: "file" };
import { Home } from "../../src/client/home.ts";
import { postImage } from "../../src/client/post.ts";
import { register } from "../../src/client/register.ts";
import { connectAs } from "../../src/client/session.ts";
import { watch } from "../../src/client/watch.ts";
import { startServer } from "../../src/server/serve.ts";
import type { Logger } from "../../src/server/logger.ts";
import { parse } from "../args.ts";
import { formatSize } from "../format.ts";
import { VERSION } from "../version.ts";

export async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { keep: { type: "boolean", default: false } });
  const dir = await mkdtemp(join(tmpdir(), "sis-demo-"));
  let step = 0;
  const say = (who: string, text: string) => process.stdout.write(`${String(++step).padStart(2)}. ${who.padEnd(6)} ${text}\n`);
  const serverLog: Logger = {
    info(message, f) {
      if (message === "image sent") say("server", `unwrapped the key of ${f?.owner}'s image and re-wrapped it for ${f?.to}'s certificate (serial ${f?.serial}); the image itself stayed encrypted`);
    },
    warn() {},
    error(message, f) {
      process.stderr.write(`sis: demo server: ${message} ${JSON.stringify(f ?? {})}\n`);
    },
  };
  const server = await startServer({ dataDir: join(dir, "server"), host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: serverLog, version: VERSION });
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
      onNotice: (image) => say("bob", `NEW_IMAGE received: ${image.owner}/${image.name} (${formatSize(image.size)}, ${image.contentType})`),
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
    // The sample is embedded in the binary; Bun.file reads it from there.
    await Bun.write(file, Bun.file(samplePng));
    const conn = await connectAs(alice);
    try {
      const { image } = await postImage(conn, alice, file);
      say("alice", `encrypted sample.png with a fresh AES-256 key, signed it, wrapped the key for the server; stored as ${image.owner}/${image.name} (id ${image.id})`);
    } finally {
      conn.close();
    }
    const path = await saved;
    const same = Buffer.compare(Buffer.from(await Bun.file(path).arrayBuffer()), Buffer.from(await Bun.file(file).arrayBuffer())) === 0;
    say("bob", `saved ${path}${same ? " — byte-identical to what alice posted" : " — BUT IT DIFFERS"}`);
    controller.abort();
    await watching;
    return same ? 0 : 1;
  } finally {
    controller.abort();
    await server.stop();
    if (values.keep) process.stdout.write(`kept ${dir}\n`);
    else {
      await rm(dir, { recursive: true, force: true });
      process.stdout.write(`cleaned up ${dir}\n`);
    }
  }
}
