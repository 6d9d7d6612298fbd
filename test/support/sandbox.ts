/** One server (the compiled `sis serve`, or one started in-process) and its users in a temporary directory, shared by a test file. */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DATA_FILES } from "../../src/server/data-dir.ts";
import { register, startServe, tempDir, type ServerProcess } from "./cli.ts";

/** What a sandbox needs of its server: both ServerProcess and src/server's RunningServer have it. */
export interface SandboxServer {
  port: number;
  stop(): Promise<void>;
}

export interface Sandbox<S extends SandboxServer = ServerProcess> extends AsyncDisposable {
  root: string;
  server: S;
  port: number;
  /** The blob store's temporary directory: a half-finished upload lives here and nowhere else. */
  tmpDir: string;
  /** The client home of a registered user. */
  home(user: string): string;
  /** A new empty directory under the root. */
  freshDir(label: string): string;
  /** Stops the server, then removes the root. */
  close(): Promise<void>;
}

/** A sandbox around `server`, whose data directory is `root`/data; closing it removes `root`. */
export function sandboxAround<S extends SandboxServer>(root: string & Disposable, server: S): Sandbox<S> {
  let n = 0;
  const close = async () => {
    await server.stop();
    root[Symbol.dispose]();
  };
  return {
    root,
    server,
    port: server.port,
    tmpDir: join(root, "data", DATA_FILES.blobs, "tmp"),
    home: (user) => join(root, user),
    freshDir(label) {
      const dir = join(root, `${label}-${++n}`);
      mkdirSync(dir);
      return dir;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export async function openSandbox(prefix: string, users: string[], serveArgs: string[] = []): Promise<Sandbox> {
  const root = tempDir(prefix);
  const server = await startServe(join(root, "data"), serveArgs);
  const results = await Promise.all(users.map((u) => register(server, u, join(root, u))));
  for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return sandboxAround(root, server);
}

/** Opens a sandbox before the file's tests (then `ready` gets it) and closes it after them. */
export function sandboxHooks<S extends SandboxServer>(open: () => Promise<Sandbox<S>>, ready: (sb: Sandbox<S>) => void | Promise<void>): void {
  let sb: Sandbox<S> | undefined;
  beforeAll(async () => {
    sb = await open();
    await ready(sb);
  }, 60_000);
  afterAll(() => sb?.close(), 30_000);
}

/**
 * The data directory and client homes of one e2e file that drives its own server:
 * after the file's tests, the file's current server (`server()`, it may have
 * restarted) stops and both directories are removed.
 */
export function dirsForFile(prefix: string, server: () => ServerProcess | undefined): { data: string; homes: string; home(name: string): string } {
  const data = tempDir(`${prefix}-data-`);
  const homes = tempDir(`${prefix}-homes-`);
  afterAll(async () => {
    await server()?.stop();
    data[Symbol.dispose]();
    homes[Symbol.dispose]();
  }, 30_000);
  return { data, homes, home: (name) => join(homes, name) };
}
