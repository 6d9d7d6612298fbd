/** A private S3 server for tests: the s3rver package as a child process on a free port, with one bucket, stopped after. */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** s3rver's built-in account: it refuses any other access key id (it does not verify SigV4 signatures, see docs/SCALING.md). */
export const S3RVER_KEY = "S3RVER";
export const S3RVER_BUCKET = "sis-test";

const BIN = join(createRequire(import.meta.url).resolve("s3rver/package.json"), "..", "bin", "s3rver.js");
const LISTENING = /S3rver listening on [^:]+:(\d+)/;

export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  readonly port: number;
  /** The data folder (objects and unfinished multipart uploads). */
  readonly dir: string;
  /** Stops the server (SIGKILL: as if the object store died); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Stops it and removes the folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts s3rver under Node (the runtime it is written for) on 127.0.0.1 with
 * `bucket` created. A missing Node or s3rver fails the test with what to install.
 */
export async function startS3(bucket = S3RVER_BUCKET): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), "sis-s3-"));
  let child: ReturnType<typeof Bun.spawn> | null = null;
  let port = 0;

  async function launch(wanted: number): Promise<number> {
    const node = Bun.which("node");
    if (!node) throw new Error("cannot start s3rver: `node` is not on PATH (install nodejs)");
    const proc = Bun.spawn([node, BIN, "-d", dir, "-a", "127.0.0.1", "-p", String(wanted), "-s", "--configure-bucket", bucket], {
      stdout: "pipe", stderr: "pipe", stdin: "ignore",
    });
    child = proc;
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = "";
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          const err = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
          throw new Error(`cannot start s3rver: it exited before listening: ${seen}${err}`);
        }
        seen += decoder.decode(value, { stream: true });
        const m = LISTENING.exec(seen);
        if (m) return Number(m[1]);
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc) return;
    proc.kill("SIGKILL");
    await proc.exited;
  }

  port = await launch(0);
  return {
    get endpoint() { return `http://127.0.0.1:${port}`; },
    bucket,
    get port() { return port; },
    dir,
    stop,
    async restart() {
      await stop();
      port = await launch(port);
    },
    async [Symbol.asyncDispose]() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
