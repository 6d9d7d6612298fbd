/** One compiled `sis serve` and registered users in a temporary directory, shared by an e2e file. */
import { expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { register, startServe, tempDir, type ServerProcess } from "./cli.ts";

export interface Sandbox {
  root: string;
  server: ServerProcess;
  /** The client home of a registered user. */
  home(user: string): string;
  /** A new empty directory under the root. */
  freshDir(label: string): string;
  close(): Promise<void>;
}

export async function openSandbox(prefix: string, users: string[], serveArgs: string[] = []): Promise<Sandbox> {
  const root = tempDir(prefix);
  const server = await startServe(join(root, "data"), serveArgs);
  const results = await Promise.all(users.map((u) => register(server, u, join(root, u))));
  for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  let n = 0;
  return {
    root,
    server,
    home: (user) => join(root, user),
    freshDir(label) {
      const dir = join(root, `${label}-${++n}`);
      mkdirSync(dir);
      return dir;
    },
    async close() {
      await server.stop();
      root[Symbol.dispose]();
    },
  };
}
